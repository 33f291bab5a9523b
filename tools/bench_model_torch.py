"""PyTorch side of //tools:bench_model: the zoo network bench_model times, built in PyTorch, and its
training step (forward, cross-entropy, backward, torch.optim.SGD, an EMA of the weights) and
inference timed the same way, in fp32 and with autocast.

Reads bench_model's config as JSON on stdin ({"model", "options", "input", "classes", "device",
"threads", "warmup", "steps", "parameters", "recipe", "flow_params", "mode"}; mode fp32, tf32 or
amp-bf16) and prints one `BENCH {...}` line with "impl": "pytorch", or one with "skipped" when
the network has no PyTorch counterpart here.

The networks: torchvision.models.video's r3d_18, mc3_18 and r2plus1d_18 themselves; the zoo's
ResNets (models/resnet.h) rebuilt from torchvision's blocks and layout: 2-D per frame with scores
averaged over time, R(2+1)D and 3-D without temporal strides, any depth, width and stem, and a
flow block (models/flow_block.h, fusion add or none) whose flow layer is bench_flow_torch's
paper-mode representation flow in plain tensor ops.
"""
import json
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from bench_flow_torch import representation_flow


def conv3d(cin, cout, kernel, stride, padding):
    return nn.Conv3d(cin, cout, kernel, stride, padding, bias=False)


def spatial3(kind, cin, cout, stride, mid):
    """The flavour's stand-in for a 3x3 conv, no stride in time (models/resnet.cc)."""
    if kind == "2d":
        return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
    if kind == "3d":
        return conv3d(cin, cout, 3, (1, stride, stride), 1)
    return nn.Sequential(conv3d(cin, mid, (1, 3, 3), (1, stride, stride), (0, 1, 1)),
                         nn.BatchNorm3d(mid), nn.ReLU(inplace=True),
                         conv3d(mid, cout, (3, 1, 1), 1, (1, 0, 0)))


def pointwise(kind, cin, cout, stride):
    if kind == "2d":
        return nn.Conv2d(cin, cout, 1, stride, bias=False)
    return conv3d(cin, cout, 1, (1, stride, stride), 0)


class Block(nn.Module):
    """torchvision's BasicBlock / Bottleneck, in the 2-D or the video layout."""

    def __init__(self, kind, bottleneck, cin, planes, stride):
        super().__init__()
        mid = cin * planes * 27 // (cin * 9 + 3 * planes)
        if bottleneck:
            steps = [(pointwise(kind, cin, planes, 1), planes),
                     (spatial3(kind, planes, planes, stride, mid), planes),
                     (pointwise(kind, planes, 4 * planes, 1), 4 * planes)]
        else:
            steps = [(spatial3(kind, cin, planes, stride, mid), planes),
                     (spatial3(kind, planes, planes, 1, mid), planes)]
        bn = nn.BatchNorm2d if kind == "2d" else nn.BatchNorm3d
        self.path = nn.Sequential()
        for i, (conv, out) in enumerate(steps):
            self.path.append(conv)
            self.path.append(bn(out))
            if i + 1 < len(steps):
                self.path.append(nn.ReLU(inplace=True))
        out = steps[-1][1]
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(pointwise(kind, cin, out, stride), bn(out))

    def forward(self, x):
        y = self.path(x)
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class FlowBlock(nn.Module):
    """reduce -> min-max to [0, 255] -> flow between frames -> expand -> BN -> fusion."""

    def __init__(self, channels, options, flow_params):
        super().__init__()
        r = int(options["reduced-channels"])
        self.iters = int(options["flow-iters"])
        self.fusion = options["fusion"]
        if self.fusion not in ("add", "none"):
            raise NotImplementedError("fusion " + self.fusion)
        self.reduce = conv3d(channels, r, 1, 1, 0)
        self.expand = conv3d(2 * r, channels, 1, 1, 0)
        self.bn = nn.BatchNorm3d(channels)
        self.names = []
        for p in flow_params:
            value = torch.tensor(p["values"]).reshape(p["shape"])
            setattr(self, p["name"], nn.Parameter(value, requires_grad=p["learned"]))
            self.names.append(p["name"])

    def forward(self, x):
        n, _, t, h, w = x.shape
        z = self.reduce(x)
        r = z.shape[1]
        mn = z.amin((1, 2, 3, 4), keepdim=True)
        mx = z.amax((1, 2, 3, 4), keepdim=True)
        z = (z - mn) * 255.0 / (mx - mn + 1e-6)
        frames = z.permute(0, 2, 1, 3, 4)
        f1 = frames[:, :-1].reshape(n * (t - 1), r, h, w)
        f2 = frames[:, 1:].reshape(n * (t - 1), r, h, w)
        p = {name: getattr(self, name) for name in self.names}
        flow = representation_flow(f1, f2, p, self.iters)
        flow = flow.reshape(n, t - 1, 2 * r, h, w).permute(0, 2, 1, 3, 4)
        y = self.bn(self.expand(flow))
        if self.fusion == "none":
            return y
        return F.relu(x[:, :, :t - 1] + y)


class ZooResNet(nn.Module):
    """models/resnet.h's ResNet: flavour 2d, 2p1d or 3d, no temporal strides."""

    def __init__(self, depth, kind, options, classes, flow_params):
        super().__init__()
        blocks = {10: [1, 1, 1, 1], 18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3]}[depth]
        bottleneck = depth == 50
        width = int(options["width"])
        small = options["stem"] == "small"
        k, s, p = (3, 1, 1) if small else (7, 2, 3)
        if options.get("input", "rgb") != "rgb":
            raise NotImplementedError("input " + options["input"])
        if int(options.get("flow-stages", "1")) > 1 or options.get("fcf") == "true":
            raise NotImplementedError("flow of flow")
        self.kind = kind
        self.small = small
        if kind == "2d":
            self.stem = nn.Sequential(nn.Conv2d(3, width, k, s, p, bias=False),
                                      nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        elif kind == "3d":
            self.stem = nn.Sequential(conv3d(3, width, (3, k, k), (1, s, s), (1, p, p)),
                                      nn.BatchNorm3d(width), nn.ReLU(inplace=True))
        else:
            mid = max(1, 45 * width // 64)
            self.stem = nn.Sequential(conv3d(3, mid, (1, k, k), (1, s, s), (0, p, p)),
                                      nn.BatchNorm3d(mid), nn.ReLU(inplace=True),
                                      conv3d(mid, width, (3, 1, 1), 1, (1, 0, 0)),
                                      nn.BatchNorm3d(width), nn.ReLU(inplace=True))
        self.layers = nn.ModuleList()
        channels = [width]
        cin = width
        for stage in range(4):
            planes = width << stage
            layer = nn.ModuleList()
            for b in range(blocks[stage]):
                layer.append(Block(kind, bottleneck, cin, planes, 2 if b == 0 and stage > 0 else 1))
                cin = 4 * planes if bottleneck else planes
            self.layers.append(layer)
            channels.append(cin)
        self.flow_at = None
        flow = options.get("flow", "none")
        if flow != "none":
            if flow == "input":
                raise NotImplementedError("flow input")
            stage, _, block = flow[len("after"):].partition(".")
            stage = int(stage)
            block = int(block) if block else (blocks[stage - 2] - 1 if stage >= 2 else -1)
            self.flow_at = (stage, block)
            self.flow = FlowBlock(channels[stage - 1], options, flow_params)
        self.dropout = nn.Dropout(float(options.get("dropout", "0")))
        self.fc = nn.Linear(cin, classes)

    def apply_flow(self, y, n):
        if self.kind != "2d":
            return self.flow(y)
        nt, c, h, w = y.shape
        clip = y.reshape(n, nt // n, c, h, w).permute(0, 2, 1, 3, 4)
        out = self.flow(clip)
        return out.permute(0, 2, 1, 3, 4).reshape(-1, c, h, w)

    def forward(self, x):
        n, c, t, h, w = x.shape
        if self.kind == "2d":
            y = self.stem(x.permute(0, 2, 1, 3, 4).reshape(n * t, c, h, w))
            if not self.small:
                y = F.max_pool2d(y, 3, 2, 1)
        else:
            y = self.stem(x)
        if self.flow_at == (1, -1):
            y = self.apply_flow(y, n)
        for s, layer in enumerate(self.layers):
            for b, block in enumerate(layer):
                y = block(y)
                if self.flow_at == (s + 2, b):
                    y = self.apply_flow(y, n)
        if self.kind != "2d":
            return self.fc(self.dropout(y.mean((2, 3, 4))))
        scores = self.fc(self.dropout(y.mean((2, 3))))
        return scores.reshape(n, -1, scores.shape[1]).mean(1)


def build(config):
    name, options, classes = config["model"], config["options"], config["classes"]
    if name in ("r3d_18", "mc3_18", "r2plus1d_18"):
        import torchvision.models.video as video
        if options.get("flow", "none") != "none":
            raise NotImplementedError(name + " with a flow layer")
        net = getattr(video, name)(num_classes=classes)
        return net
    if name.startswith("resnet"):
        depth, kind = name[len("resnet"):].split("_")
        return ZooResNet(int(depth), kind, options, classes, config["flow_params"])
    raise NotImplementedError(name)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def max_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_mode(net, config, device, mode):
    recipe = config["recipe"]
    torch.manual_seed(0)
    x = torch.randn(config["input"]).to(device)
    labels = (torch.arange(config["input"][0]) % config["classes"]).to(device)
    decay, no_decay = [], []
    for p in net.parameters():
        if p.requires_grad:
            (no_decay if p.dim() < 2 else decay).append(p)
    sgd = torch.optim.SGD([{"params": decay, "weight_decay": recipe["weight_decay"]},
                           {"params": no_decay, "weight_decay": 0.0}], lr=recipe["lr"],
                          momentum=recipe["momentum"], nesterov=True)
    tracked = [t for t in net.state_dict().values() if t.is_floating_point()]
    averages = [t.detach().clone() for t in tracked]
    rate = 1.0 - recipe["ema_decay"]
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=mode == "amp-bf16")
    if device.type == "cuda":
        tf32 = mode == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.cuda.reset_peak_memory_stats(device)
    rss_before = max_rss_mb()
    fwd, bwd, opt, train, infer = [], [], [], [], []
    net.train()
    for i in range(config["warmup"] + config["steps"]):
        t0 = time.perf_counter()
        sgd.zero_grad(set_to_none=True)
        with autocast:
            loss = F.cross_entropy(net(x).float(), labels)
        sync(device)
        t1 = time.perf_counter()
        loss.backward()
        sync(device)
        t2 = time.perf_counter()
        sgd.step()
        with torch.no_grad():
            torch._foreach_add_(averages, torch._foreach_sub(tracked, averages), alpha=rate)
        sync(device)
        t3 = time.perf_counter()
        if i >= config["warmup"]:
            fwd.append((t1 - t0) * 1e3)
            bwd.append((t2 - t1) * 1e3)
            opt.append((t3 - t2) * 1e3)
            train.append((t3 - t0) * 1e3)
    net.eval()
    with torch.no_grad():
        for i in range(config["warmup"] + config["steps"]):
            t0 = time.perf_counter()
            with autocast:
                net(x)
            sync(device)
            if i >= config["warmup"]:
                infer.append((time.perf_counter() - t0) * 1e3)
    rss_growth = max_rss_mb() - rss_before
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else rss_growth
    batch = config["input"][0]
    train_ms, infer_ms = statistics.median(train), statistics.median(infer)
    return {"bench": "model", "impl": "pytorch", "mode": mode,
            "config": {"model": config["model"], "input": config["input"]},
            "parameters": sum(p.numel() for p in net.parameters()),
            "fwd_ms": statistics.median(fwd), "bwd_ms": statistics.median(bwd),
            "opt_ms": statistics.median(opt), "train_ms": train_ms,
            "train_clips_s": batch * 1e3 / train_ms, "infer_ms": infer_ms,
            "infer_clips_s": batch * 1e3 / infer_ms, "peak_mb": peak,
            "peak_mb_note": "torch.cuda.max_memory_allocated" if device.type == "cuda"
            else "growth of the process's max RSS", "rss_growth_mb": rss_growth,
            "torch_version": torch.__version__}


def main():
    config = json.load(sys.stdin)
    torch.set_num_threads(config["threads"])
    device = torch.device(config["device"])
    try:
        net = build(config).to(device)
    except NotImplementedError as e:
        print("BENCH " + json.dumps({"bench": "model", "impl": "pytorch", "model": config["model"],
                                     "skipped": "no PyTorch counterpart here: " + str(e)}))
        return
    print("BENCH " + json.dumps(time_mode(net, config, device, config["mode"])), flush=True)


if __name__ == "__main__":
    main()
