"""PyTorch side of //tools:bench_flow: the paper-mode flow algorithm of ops/flow/flow.h written as
plain PyTorch tensor operations (autograd records every small op), timed on the CPU or a GPU.

Reads {"threads", "repeats", "device", "configs": [{"pairs", "channels", "size", "iters"}]} as
JSON on stdin and prints one `BENCH {...}` line per config with "impl": "pytorch".
"""
import json
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def representation_flow(f1, f2, p, n_iter):
    """f1, f2: (N, C, H, W) -> (N, 2C, H, W), every channel on its own."""
    n, c, h, w = f1.shape
    a = f1.reshape(n * c, 1, h, w)
    b = f2.reshape(n * c, 1, h, w)
    padded = F.pad(b, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(padded, p["sobel_x"].view(1, 1, 3, 3))
    gy = F.conv2d(padded, p["sobel_y"].view(1, 1, 3, 3))
    g2 = gx * gx + gy * gy + 1e-12
    rho_c = b - a
    last_col = torch.ones(h, w, device=a.device)
    last_col[:, -1] = 0
    last_row = torch.ones(h, w, device=a.device)
    last_row[-1, :] = 0

    def div(pa, pb):
        left = F.pad(pa, (1, 0, 0, 0))[:, :, :, :-1]
        up = F.pad(pb, (0, 0, 1, 0))[:, :, :-1, :]
        return p["div_x"][0] * left + p["div_x"][1] * pa + p["div_y"][0] * up + p["div_y"][1] * pb

    def grad(u):
        right = F.pad(u[:, :, :, 1:], (0, 1, 0, 0))
        down = F.pad(u[:, :, 1:, :], (0, 0, 0, 1))
        ux = (p["grad_x"][0] * u + p["grad_x"][1] * right) * last_col
        uy = (p["grad_y"][0] * u + p["grad_y"][1] * down) * last_row
        return ux, uy

    zero = torch.zeros_like(a)
    u1, u2, p11, p12, p21, p22 = zero, zero, zero, zero, zero, zero
    lt = p["lambda"] * p["theta"]
    s = p["tau"] / p["theta"]
    for _ in range(n_iter):
        rho = rho_c + gx * u1 + gy * u2
        with torch.no_grad():
            m1 = rho < -lt * g2
            m2 = rho > lt * g2
        v1 = torch.where(m1, lt * gx, torch.where(m2, -lt * gx, -rho * gx / g2)) + u1
        v2 = torch.where(m1, lt * gy, torch.where(m2, -lt * gy, -rho * gy / g2)) + u2
        u1 = v1 + p["theta"] * div(p11, p12)
        u2 = v2 + p["theta"] * div(p21, p22)
        u1x, u1y = grad(u1)
        u2x, u2y = grad(u2)
        d1 = 1 + s * torch.sqrt(u1x * u1x + u1y * u1y + 1e-12)
        d2 = 1 + s * torch.sqrt(u2x * u2x + u2y * u2y + 1e-12)
        p11, p12 = (p11 + s * u1x) / d1, (p12 + s * u1y) / d1
        p21, p22 = (p21 + s * u2x) / d2, (p22 + s * u2y) / d2
    return torch.cat([u1.reshape(n, c, h, w), u2.reshape(n, c, h, w)], 1)


def params(device):
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8
    fixed = lambda t: t.to(device)
    learn = lambda t: t.to(device).requires_grad_(True)
    return {"theta": learn(torch.tensor(0.3)), "lambda": learn(torch.tensor(0.15)),
            "tau": learn(torch.tensor(0.25)), "div_x": learn(torch.tensor([-1.0, 1.0])),
            "div_y": learn(torch.tensor([-1.0, 1.0])), "grad_x": fixed(torch.tensor([-1.0, 1.0])),
            "grad_y": fixed(torch.tensor([-1.0, 1.0])), "sobel_x": fixed(sobel),
            "sobel_y": fixed(sobel.t().contiguous())}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_bytes(device):
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main():
    config = json.load(sys.stdin)
    torch.set_num_threads(config["threads"])
    torch.manual_seed(0)
    device = torch.device(config.get("device", "cpu"))
    for c in config["configs"]:
        shape = (c["pairs"], c["channels"], c["size"], c["size"])
        f1 = (torch.rand(shape) * 255).to(device).requires_grad_(True)
        f2 = (torch.rand(shape) * 255).to(device).requires_grad_(True)
        p = params(device)
        sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        before = peak_bytes(device)
        fwd, bwd = [], []
        for i in range(config["repeats"] + 1):
            t0 = time.perf_counter()
            out = representation_flow(f1, f2, p, c["iters"])
            sync(device)
            t1 = time.perf_counter()
            out.backward(torch.ones_like(out))
            sync(device)
            t2 = time.perf_counter()
            if i > 0:
                fwd.append((t1 - t0) * 1e3)
                bwd.append((t2 - t1) * 1e3)
            f1.grad = None
            f2.grad = None
        print("BENCH " + json.dumps({
            "bench": "flow_layer", "impl": "pytorch", "device": str(device),
            "threads": config["threads"], "config": c, "fwd_ms": round(statistics.median(fwd), 3),
            "bwd_ms": round(statistics.median(bwd), 3), "peak_bytes": peak_bytes(device) - before,
            "peak_bytes_note": "growth of torch.cuda.max_memory_allocated" if device.type == "cuda"
            else "growth of the process's max RSS", "torch_version": torch.__version__}),
            flush=True)


if __name__ == "__main__":
    main()
