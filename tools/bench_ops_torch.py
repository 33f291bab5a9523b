"""PyTorch side of //tools:bench_ops: times the same layers with torch on the CPU.

Reads a JSON object from stdin: {"threads": N, "repeats": R, "layers": [{"name", "kind":
"conv"|"batch_norm"|"batch_norm_relu"|"max_pool", "input": [N,C,H,W], "out_channels", "kernel", "stride",
"padding"}, ...]} and prints one `BENCH {...}` line per layer with "impl": "pytorch".
"""
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def layer_fn(spec):
    n, c, h, w = spec["input"]
    if spec["kind"] == "conv":
        weight = torch.randn(spec["out_channels"], c, spec["kernel"], spec["kernel"], requires_grad=True)
        return [weight], lambda x: F.conv2d(x, weight, None, spec["stride"], spec["padding"])
    if spec["kind"] in ("batch_norm", "batch_norm_relu"):
        weight = torch.ones(c, requires_grad=True)
        bias = torch.zeros(c, requires_grad=True)
        mean, var = torch.zeros(c), torch.ones(c)
        if spec["kind"] == "batch_norm":
            return [weight, bias], lambda x: F.batch_norm(x, mean, var, weight, bias, True, 0.1, 1e-5)
        # torchvision's ResNet: BatchNorm2d, then ReLU(inplace=True).
        return [weight, bias], lambda x: F.relu(
            F.batch_norm(x, mean, var, weight, bias, True, 0.1, 1e-5), inplace=True)
    return [], lambda x: F.max_pool2d(x, spec["kernel"], spec["stride"], spec["padding"])


def main():
    config = json.load(sys.stdin)
    torch.set_num_threads(config["threads"])
    torch.manual_seed(0)
    for spec in config["layers"]:
        params, fn = layer_fn(spec)
        x = torch.randn(*spec["input"], requires_grad=True)
        fwd, bwd = [], []
        for i in range(config["repeats"] + 1):
            t0 = time.perf_counter()
            y = fn(x)
            t1 = time.perf_counter()
            y.backward(torch.ones_like(y))
            t2 = time.perf_counter()
            if i > 0:  # the first run warms caches and primitive selection
                fwd.append((t1 - t0) * 1e3)
                bwd.append((t2 - t1) * 1e3)
            for p in params + [x]:
                p.grad = None
        print("BENCH " + json.dumps({
            "bench": "ops", "impl": "pytorch", "device": "cpu", "threads": config["threads"],
            "config": {"layer": spec["name"], "input": spec["input"]},
            "fwd_ms": round(statistics.median(fwd), 3), "bwd_ms": round(statistics.median(bwd), 3),
            "peak_bytes": None, "torch_version": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
