"""PyTorch side of //tools:bench_model: the zoo network bench_model times, built in PyTorch, and its
training step (forward, cross-entropy, backward, torch.optim.SGD, an EMA of the weights) and
inference timed the same way, in fp32 and with autocast.

Reads bench_model's config as JSON on stdin ({"model", "options", "input", "classes", "device",
"threads", "warmup", "steps", "parameters", "recipe", "flow_params", "mode"}; mode fp32, tf32 or
amp-bf16) and prints one `BENCH {...}` line with "impl": "pytorch", or one with "skipped" when
the network has no PyTorch counterpart here.

The networks: torchvision.models.video's r3d_18, mc3_18 and r2plus1d_18 themselves; the paper's
published Kinetics model (kinetics_repflow_r50: the published code's Bottleneck3D blocks and
FlowLayer, as models/reference/ rebuilds them); the zoo's ResNets (models/resnet.h) rebuilt from
torchvision's blocks and layout: 2-D per frame with scores averaged over time, R(2+1)D and 3-D
without temporal strides, any depth, width and stem, and a flow block (models/flow_block.h,
fusion add or none) whose flow layer is bench_flow_torch's paper-mode representation flow in
plain tensor ops.
"""
import json
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from bench_flow_torch import representation_flow, sync


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
    """torchvision's BasicBlock / Bottleneck under the zoo's names: conv1, bn1, conv2, ... in 2-D;
    conv1 = (conv, BN, ReLU), conv2, ... in the video layout; downsample = (1x1 conv, BN)."""

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
        self.path = []
        for i, (conv, out) in enumerate(steps):
            last = i + 1 == len(steps)
            if kind == "2d":
                setattr(self, "conv%d" % (i + 1), conv)
                setattr(self, "bn%d" % (i + 1), bn(out))
                self.path += [conv, getattr(self, "bn%d" % (i + 1))] + ([] if last else [F.relu])
            else:
                seq = nn.Sequential(conv, bn(out), *([] if last else [nn.ReLU(inplace=True)]))
                setattr(self, "conv%d" % (i + 1), seq)
                self.path.append(seq)
        out = steps[-1][1]
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(pointwise(kind, cin, out, stride), bn(out))

    def forward(self, x):
        y = x
        for step in self.path:
            y = step(y)
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
    """models/resnet.h's ResNet under its names: flavour 2d, 2p1d or 3d, no temporal strides."""

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
            self.conv1 = nn.Conv2d(3, width, k, s, p, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
        elif kind == "3d":
            self.stem = nn.Sequential(conv3d(3, width, (3, k, k), (1, s, s), (1, p, p)),
                                      nn.BatchNorm3d(width), nn.ReLU(inplace=True))
        else:
            mid = max(1, 45 * width // 64)
            self.stem = nn.Sequential(conv3d(3, mid, (1, k, k), (1, s, s), (0, p, p)),
                                      nn.BatchNorm3d(mid), nn.ReLU(inplace=True),
                                      conv3d(mid, width, (3, 1, 1), 1, (1, 0, 0)),
                                      nn.BatchNorm3d(width), nn.ReLU(inplace=True))
        self.layers = []
        channels = [width]
        cin = width
        for stage in range(4):
            planes = width << stage
            layer = nn.Sequential()
            for b in range(blocks[stage]):
                layer.append(Block(kind, bottleneck, cin, planes, 2 if b == 0 and stage > 0 else 1))
                cin = 4 * planes if bottleneck else planes
            setattr(self, "layer%d" % (stage + 1), layer)
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
            y = F.relu(self.bn1(self.conv1(x.permute(0, 2, 1, 3, 4).reshape(n * t, c, h, w))))
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


def same_pad(x, kernel, stride):
    """TensorFlow's "same" padding of the last len(kernel) dims (models/layers.h SamePadding)."""
    pads = []
    for n, k, s in zip(x.shape[-len(kernel):], kernel, stride):
        total = max(k - s, 0) if n % s == 0 else max(k - n % s, 0)
        pads.append((total // 2, total - total // 2))
    return F.pad(x, [p for pair in reversed(pads) for p in pair])


class SamePad(nn.Module):
    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x):
        return same_pad(x, self.kernel, self.stride)


class Bottleneck3D(nn.Module):
    """The published kinetics_2p1d_model.Bottleneck3D (models/reference/reference_modules.cc)."""

    def __init__(self, inputs, filters, strides, use_projection, t):
        super().__init__()
        self.shortcut = None
        if use_projection:
            self.shortcut = nn.Sequential(
                SamePad((1, 1, 1), (1, strides, strides)),
                conv3d(inputs, 4 * filters, 1, (1, strides, strides), 0),
                nn.BatchNorm3d(4 * filters), nn.BatchNorm3d(4 * filters))
        self.layers = nn.Sequential(
            SamePad((t, 1, 1), (1, 1, 1)), conv3d(inputs, filters, (t, 1, 1), 1, 0),
            nn.BatchNorm3d(filters), nn.ReLU(inplace=True),
            SamePad((1, 3, 3), (1, strides, strides)),
            conv3d(filters, filters, (1, 3, 3), (1, strides, strides), 0),
            nn.BatchNorm3d(filters), nn.ReLU(inplace=True),
            conv3d(filters, 4 * filters, 1, 1, 0), nn.BatchNorm3d(4 * filters))

    def forward(self, x):
        return F.relu(self.layers(x) + (self.shortcut(x) if self.shortcut is not None else x))


class PublishedFlowLayer(nn.Module):
    """The published rep_flow_layer.FlowLayer (models/reference/reference_flow_layer.h)."""

    def __init__(self, channels, bottleneck, n_iter):
        super().__init__()
        b = bottleneck
        dense = lambda kh, kw, taps: nn.Parameter(torch.tensor(taps).reshape(1, 1, kh, kw)
                                                  .repeat(b, b, 1, 1))
        self.img_grad = dense(1, 3, [-0.5, 0.0, 0.5])
        self.img_grad2 = dense(3, 1, [-0.5, 0.0, 0.5])
        self.f_grad = dense(2, 1, [-1.0, 1.0])
        self.f_grad2 = dense(2, 1, [-1.0, 1.0])
        self.div = dense(2, 1, [-1.0, 1.0])
        self.div2 = dense(2, 1, [-1.0, 1.0])
        self.t = nn.Parameter(torch.tensor([0.3]))
        self.l = nn.Parameter(torch.tensor([0.15]))
        self.a = nn.Parameter(torch.tensor([0.25]))
        self.n_iter = n_iter
        self.bottleneck = conv3d(channels, b, 1, 1, 0)
        self.unbottleneck = conv3d(2 * b, channels, 1, 1, 0)
        self.bn = nn.BatchNorm3d(channels)

    def flow(self, x1, x2):
        h, w = x1.shape[2:]
        gx = F.conv2d(F.pad(x2, (1, 1, 0, 0)), self.img_grad)
        gy = F.conv2d(F.pad(x2, (0, 0, 1, 1)), self.img_grad2)
        gx = torch.cat([0.5 * (x1[..., 1:2] - x1[..., 0:1]), gx[..., 1:-1],
                        0.5 * (x1[..., -1:] - x1[..., -2:-1])], 3)
        gy = torch.cat([0.5 * (x1[:, :, 1:2] - x1[:, :, 0:1]), gy[:, :, 1:-1],
                        0.5 * (x1[:, :, -1:] - x1[:, :, -2:-1])], 2)
        lt, taut = self.l * self.t, self.a / self.t
        g2 = gx * gx + gy * gy + 1e-12
        rho_c = x2 - x1
        last_row = torch.ones(h, w, device=x1.device)
        last_row[-1] = 0

        def fgrad(u):
            padded = F.pad(u, (0, 0, 0, 1))
            return F.conv2d(padded, self.f_grad) * last_row, F.conv2d(padded, self.f_grad2) * last_row

        def shifted(q, k):
            return F.conv2d(F.pad(F.pad(q[:, :, :-1], (0, 0, 1, 0)), (0, 0, 0, 1)), k)

        def divergence(a, c):
            return shifted(a, self.div) + shifted(c, self.div2)

        def p_update(p, grad, gxu, gyu):
            return (p + taut * grad) / (taut * torch.sqrt(gxu * gxu + gyu * gyu + 1e-12) + 1)

        zero = torch.zeros_like(x1)
        u1, u2, p11, p12, p21, p22 = zero, zero, zero, zero, zero, zero
        for _ in range(self.n_iter):
            rho = rho_c + gx * u1 + gy * u2 + 1e-12
            with torch.no_grad():
                bound = lt * g2
                m1, m2, m3 = rho < -bound, rho > bound, g2 > 1e-12
            th = lambda g: torch.where(m1, lt * g, torch.where(
                m2, -(lt * g), torch.where(m3, -(rho / g2 * g), zero)))
            v1, v2 = th(gx) + u1, th(gy) + u2
            u1 = v1 + self.t * divergence(p11, p12)
            u2 = v2 + self.t * divergence(p21, p22)
            u1x, u1y = fgrad(u1)
            u2x, u2y = fgrad(u2)
            p11, p12 = p_update(p11, u1x, u1x, u1y), p_update(p12, u1y, u1x, u1y)
            p21, p22 = p_update(p21, u2x, u2x, u2y), p_update(p22, u2y, u2x, u2y)
        return torch.cat([u1, u2], 1)

    def forward(self, x):
        n, _, t, h, w = x.shape
        residual = x[:, :, :t - 1]
        z = self.bottleneck(x)
        mn, mx = z.min(), z.max()
        z = (z - mn) * 255.0 / (mn - mx)
        b = z.shape[1]
        frames = z.permute(0, 2, 1, 3, 4)
        f1 = frames[:, :-1].reshape(n * (t - 1), b, h, w)
        f2 = frames[:, 1:].reshape(n * (t - 1), b, h, w)
        flow = self.flow(f1, f2).reshape(n, t - 1, 2 * b, h, w).permute(0, 2, 1, 3, 4)
        return F.relu(residual + self.bn(self.unbottleneck(flow)))


class KineticsRepFlow(nn.Module):
    """The paper's published Kinetics-400 model (models/reference/kinetics.h)."""

    def __init__(self, options, classes):
        super().__init__()
        self.stem = conv3d(3, 64, 7, 2, 0)
        self.bn1 = nn.BatchNorm3d(64, eps=1e-3, momentum=0.01)
        self.rep_flow = PublishedFlowLayer(512, int(options["reduced-channels"]),
                                           int(options["flow-iters"]))
        groups = []
        for g, (inputs, filters, blocks) in enumerate(
                [(64, 64, 3), (256, 128, 4), (512, 256, 6), (1024, 512, 3)]):
            layers = [Bottleneck3D(inputs, filters, 1 if g == 0 else 2, True, 3)]
            t = 3
            for _ in range(1, blocks):
                layers.append(Bottleneck3D(4 * filters, filters, 1, False, t))
                t = 3 if t == 1 else 1
            group = nn.Module()  # kinetics_2p1d_model.Block3D: a ModuleList `blocks`
            group.blocks = nn.Sequential(*layers)
            groups.append(group.blocks)
            setattr(self, "res%d" % (g + 2), group)
        self.groups = groups
        self.dropout = nn.Dropout(float(options["dropout"]))
        self.classify = nn.Conv3d(2048, classes, 1)

    def forward(self, x):
        y = F.relu(self.bn1(self.stem(x)))
        y = F.max_pool3d(same_pad(y, (3, 3, 3), (2, 2, 2)), 3, 2)
        res2, res3, res4, res5 = self.groups
        y = res5(res4(self.rep_flow(res3(res2(y)))))
        y = self.classify(self.dropout(y.mean((3, 4), keepdim=True)))
        return y.mean(2).reshape(y.shape[0], y.shape[1])


def build(config):
    name, options, classes = config["model"], config["options"], config["classes"]
    if name in ("r3d_18", "mc3_18", "r2plus1d_18"):
        import torchvision.models.video as video
        if options.get("flow", "none") != "none":
            raise NotImplementedError(name + " with a flow layer")
        net = getattr(video, name)(num_classes=classes)
        return net
    if name == "kinetics_repflow_r50":
        return KineticsRepFlow(options, classes)
    if name.startswith("resnet"):
        depth, kind = name[len("resnet"):].split("_")
        return ZooResNet(int(depth), kind, options, classes, config["flow_params"])
    raise NotImplementedError(name)


def max_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def trace_step(step, device, out):
    """Runs one more training step under torch.profiler (CUPTI's activity records, as repflow's
    side reads them) and writes what the GPU ran to `out`: {"wall_ms": the step's wall time,
    "kernels": [[name, ms, calls], ...]}, summed by name, for bench_model's table."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile
    sync(device)
    # GPU activity alone, as repflow's side traces: recording the CPU ops too would slow the
    # step's host side and understate how busy the GPU is. (A CPU-only torch has no CUDA
    # activity and needs one.)
    cuda = device.type == "cuda"
    with profile(activities=[ProfilerActivity.CUDA if cuda else ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        step()
        sync(device)
        wall_ms = (time.perf_counter() - t0) * 1e3
    totals = {}
    for e in prof.events():
        # record_function ranges (Optimizer.step's, say) come as GPU spans of their own kernels.
        if e.device_type != DeviceType.CUDA or getattr(e, "is_user_annotation", False):
            continue
        ms, calls = totals.get(e.name, (0.0, 0))
        totals[e.name] = (ms + e.time_range.elapsed_us() / 1e3, calls + 1)
    with open(out, "w") as f:
        json.dump({"wall_ms": wall_ms,
                   "kernels": [[name, ms, calls] for name, (ms, calls) in totals.items()]}, f)


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
                          momentum=recipe["momentum"], nesterov=recipe["nesterov"])
    tracked = [t for t in net.state_dict().values() if t.is_floating_point()]
    averages = [t.detach().clone() for t in tracked]
    rate = 1.0 - recipe["ema_decay"]
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=mode == "amp-bf16")
    if device.type == "cuda":
        # bench_model --conv-algo fastest: cuDNN's timed search on both sides.
        torch.backends.cudnn.benchmark = config.get("cudnn_benchmark", False)
        tf32 = mode == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.cuda.reset_peak_memory_stats(device)
    rss_before = max_rss_mb()
    fwd, bwd, opt, train, infer = [], [], [], [], []

    def forward_loss():
        sgd.zero_grad(set_to_none=True)
        with autocast:
            return F.cross_entropy(net(x).float(), labels)

    def update():
        sgd.step()
        with torch.no_grad():
            torch._foreach_add_(averages, torch._foreach_sub(tracked, averages), alpha=rate)

    net.train()
    for i in range(config["warmup"] + config["steps"]):
        t0 = time.perf_counter()
        loss = forward_loss()
        sync(device)
        t1 = time.perf_counter()
        loss.backward()
        sync(device)
        t2 = time.perf_counter()
        update()
        sync(device)
        t3 = time.perf_counter()
        if i >= config["warmup"]:
            fwd.append((t1 - t0) * 1e3)
            bwd.append((t2 - t1) * 1e3)
            opt.append((t3 - t2) * 1e3)
            train.append((t3 - t0) * 1e3)
    if config.get("kernel_times_out"):
        trace_step(lambda: (forward_loss().backward(), update()), device,
                   config["kernel_times_out"])
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
