"""PyTorch side of //tools:bench_recipe: the trainer's recipe (training/train.cc with the flags a
repflow run saved in its config.json) ported to PyTorch, on the same data, timed end to end.

Reads {"flags": {name: value, ... every flag of the repflow run}, "model": tools/
torch_model_config.h's config, "parameters", "device", "threads"} as JSON on stdin, trains, and
prints one line per epoch, the trainer's last line `final: val_top1=... val_top5=... epochs=...
seconds=...` and one `BENCH {...}` line with "impl": "pytorch". Flags of a recipe not ported here
(other data, reduce-on-plateau, mixed precision, several processes, resuming) are refused.

The pieces, each the port of the repflow file named:
- SyntheticMotion (training/data/synthetic_motion.cc) and philox4x32 (framework/philox.h), in
  numpy float32 with the C++ code's order of operations, so that clips match repflow's to float
  rounding (tests/recipe_torch_test.cc checks it);
- epoch_samples (training/data/epoch_order.cc): the same shuffle and clip seeds;
- the network: tools/bench_model_torch.py's port of the zoo, which PyTorch initialises with the
  same distributions as repflow (uniform within 1/sqrt(fan_in), BN at 1 and 0), other draws;
- torch.optim.SGD over the trainer's parameter groups (training/optim/sgd.cc follows it), the
  learning rate of training/optim/lr_schedule.cc set per step, the weight average of
  training/optim/averaging.cc over the state dict, evaluation with the average applied.

Data: repflow generates clips on --workers loader threads beside the compute threads; here a
torch DataLoader with the same number of worker processes (Python threads would hold the GIL)
generates them, prefetch_factor giving the same number of batches in flight (--prefetch).
"""
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from bench_model_torch import build

F32 = np.float32
MASK32 = np.uint64(0xFFFFFFFF)
SHIFT32 = np.uint64(32)


def philox4x32(seed, offset, index):
    """framework/philox.h's Philox4x32-10 of python-int `seed` and `offset`, vectorised over
    `index` (an int or an array): its four words as uint64 arrays."""
    index = np.asarray(index, dtype=np.uint64)
    c0, c1 = np.array(index & MASK32), np.array(index >> SHIFT32)
    c2 = np.full(index.shape, offset & 0xFFFFFFFF, dtype=np.uint64)
    c3 = np.full(index.shape, offset >> 32, dtype=np.uint64)
    p0, p1 = np.empty_like(c0), np.empty_like(c0)
    k0, k1 = seed & 0xFFFFFFFF, seed >> 32
    for _ in range(10):  # in place: the noise's draws are most of a clip's cost
        np.multiply(c0, np.uint64(0xD2511F53), out=p0)
        np.multiply(c2, np.uint64(0xCD9E8D57), out=p1)
        np.right_shift(p1, SHIFT32, out=c0)
        c0 ^= c1
        c0 ^= np.uint64(k0)
        np.bitwise_and(p1, MASK32, out=c1)
        np.right_shift(p0, SHIFT32, out=c2)
        c2 ^= c3
        c2 ^= np.uint64(k1)
        np.bitwise_and(p0, MASK32, out=c3)
        k0, k1 = (k0 + 0x9E3779B9) & 0xFFFFFFFF, (k1 + 0xBB67AE85) & 0xFFFFFFFF
    return c0, c1, c2, c3


def philox_uniform(seed, offset, index):
    return (philox4x32(seed, offset, index)[0] >> np.uint64(8)).astype(F32) * F32(2.0 ** -24)


def philox_normal(seed, offset, index):
    r = philox4x32(seed, offset, index)
    u1 = ((r[0] >> np.uint64(8)).astype(F32) + F32(1)) * F32(2.0 ** -24)
    u2 = (r[1] >> np.uint64(8)).astype(F32) * F32(2.0 ** -24)
    return np.sqrt(F32(-2) * np.log(u1)) * np.cos(F32(6.283185307179586) * u2)


def derive_key(key, a, b):
    r = philox4x32(key, a, b)
    return int(r[0]) | (int(r[1]) << 32)


# synthetic_motion.cc's draw streams; distractor i draws from DISTRACTOR + 2 i and + 2 i + 1.
SCALARS, BACKGROUND, OBJECT, NOISE, SHAKE, DISTRACTOR = range(6)


class Draws:
    """Uniform draws of one stream, taken in order."""

    def __init__(self, key, stream):
        self.key, self.stream, self.i = key, stream, 0

    def raw(self, n):
        u = philox_uniform(self.key, self.stream, np.arange(self.i, self.i + n, dtype=np.uint64))
        self.i += n
        return u

    def uniform(self, lo, hi):
        return F32(lo) + (F32(hi) - F32(lo)) * self.raw(1)[0]


def texture(d, h, w, cell):
    """A periodic colour texture (3, h, w): a mean per channel plus a bilinear grid of values."""
    gy, gx = max(1, h // cell), max(1, w // cell)
    u = d.raw(3 * (1 + gy * gx)).reshape(3, 1 + gy * gx)
    mean = F32(0.25) + F32(0.5) * u[:, :1]
    grid = (mean + (F32(-0.25) + F32(0.5) * u[:, 1:])).reshape(3, gy, gx)
    fy = np.arange(h, dtype=F32) * F32(gy) / F32(h)
    fx = np.arange(w, dtype=F32) * F32(gx) / F32(w)
    y0, x0 = fy.astype(np.int64), fx.astype(np.int64)
    ay, ax = (fy - y0.astype(F32))[:, None], (fx - x0.astype(F32))[None, :]
    y0, y1 = y0[:, None], ((y0 + 1) % gy)[:, None]
    x0, x1 = x0[None, :], ((x0 + 1) % gx)[None, :]
    return ((1 - ay) * ((1 - ax) * grid[:, y0, x0] + ax * grid[:, y0, x1]) +
            ay * ((1 - ax) * grid[:, y1, x0] + ax * grid[:, y1, x1]))


def sample_wrapped(p, y, x):
    """Bilinear samples of every plane of `p` (C, h, w) at float32 (y, x), wrapping around."""
    fy, fx = np.floor(y), np.floor(x)
    ay, ax = y - fy, x - fx
    h, w = p.shape[1:]
    y0, x0 = fy.astype(np.int64) % h, fx.astype(np.int64) % w
    y1, x1 = (y0 + 1) % h, (x0 + 1) % w
    return ((1 - ay) * ((1 - ax) * p[:, y0, x0] + ax * p[:, y0, x1]) +
            ay * ((1 - ax) * p[:, y1, x0] + ax * p[:, y1, x1]))


class MovingObject:
    """A textured rectangle moving over the torus: premultiplied colour and coverage planes."""

    def __init__(self, texture_draws, h, w, oh, ow, cell):
        colour = texture(texture_draws, h, w, cell)
        self.layer = np.zeros((4, h, w), dtype=F32)
        self.layer[:3, :oh, :ow] = colour[:, :oh, :ow]
        self.layer[3, :oh, :ow] = 1
        self.y0 = self.x0 = self.vy = self.vx = F32(0)

    def position(self, frames):
        """Its top-left corner at each of `frames` (int64 array), in double, wrapped."""
        h, w = self.layer.shape[1:]
        f = frames.astype(np.float64)
        at = lambda p0, v, n: np.fmod(np.float64(p0) + np.float64(v) * f, float(n)).astype(F32)
        return at(self.y0, self.vy, h), at(self.x0, self.vx, w)

    def over(self, oy, ox, ys, xs, rgb):
        """Composites the object at (oy, ox) (per frame, (T, 1, 1)) over rgb (3, T, h, w)."""
        s = sample_wrapped(self.layer, ys - oy, xs - ox)
        cover = s[3]
        return np.where(cover == 0, rgb, s[:3] + (1 - cover) * rgb)


def object_side(d, side, lo, hi):
    return max(1, int(math.floor(float(side * d.uniform(lo, hi)) + 0.5)))


EASY = {"classes": 8, "min_speed": 1.0, "max_speed": 2.0, "min_object": 0.3, "max_object": 0.5,
        "shake": 0.0, "distractors": 0, "min_distractor": 0.15, "max_distractor": 0.25,
        "texture_cell": 4, "noise": 0.02}
HARD = dict(EASY, classes=12, min_speed=0.5, max_speed=1.25, shake=0.5, distractors=1, noise=0.05)


def synthetic_options(preset, **given):
    """SyntheticMotionOptions with synthetic_preset's motion; `given` sets the rest."""
    o = {"seed": 0, "split": "train", "size": 1024, "frames": 8, "height": 32, "width": 32,
         "fresh_train_clips": True}
    o.update({"easy": EASY, "hard": HARD}[preset])
    o.update(given)
    return o


class SyntheticMotion:
    """training/data/synthetic_motion.h: clip(index, request) as repflow gives it."""

    def __init__(self, options):
        self.o = options

    def __len__(self):
        return self.o["size"]

    def clip(self, index, train, seed=0, clip_index=0):
        """(3, T, H, W) float32 normalised frames and the label, for a training request of `seed`
        or the evaluation request of clip `clip_index`."""
        o = self.o
        h, w, t_count = o["height"], o["width"], o["frames"]
        label = index % o["classes"]
        video_key = derive_key(o["seed"], 0 if o["split"] == "train" else 1, index)
        fresh = train and o["fresh_train_clips"]
        key = derive_key(video_key, 1, seed) if fresh else video_key

        scalars = Draws(key, SCALARS)
        side = F32(min(h, w))
        oh = object_side(scalars, side, o["min_object"], o["max_object"])
        ow = object_side(scalars, side, o["min_object"], o["max_object"])
        speed = scalars.uniform(o["min_speed"], o["max_speed"])
        obj = MovingObject(Draws(key, OBJECT), h, w, oh, ow, o["texture_cell"])
        obj.y0 = scalars.uniform(0, F32(h))
        obj.x0 = scalars.uniform(0, F32(w))
        angle = 2 * math.pi * label / o["classes"]
        obj.vy = speed * F32(math.sin(angle))
        obj.vx = speed * F32(math.cos(angle))

        distractors = []
        for i in range(o["distractors"]):
            d = Draws(key, DISTRACTOR + 2 * i)
            dh = object_side(d, side, o["min_distractor"], o["max_distractor"])
            dw = object_side(d, side, o["min_distractor"], o["max_distractor"])
            m = MovingObject(Draws(key, DISTRACTOR + 2 * i + 1), h, w, dh, dw, o["texture_cell"])
            a = d.uniform(0, F32(2 * math.pi))
            v = d.uniform(o["min_speed"], o["max_speed"])
            m.y0 = d.uniform(0, F32(h))
            m.x0 = d.uniform(0, F32(w))
            m.vy = v * F32(math.sin(a))
            m.vx = v * F32(math.cos(a))
            distractors.append(m)

        if not train:
            start = clip_index * t_count
        elif not fresh:
            start = derive_key(video_key, 3, seed) % 1024
        else:
            start = 0
        background = texture(Draws(key, BACKGROUND), h, w, o["texture_cell"])
        noise_key = key if fresh else derive_key(key, 2, seed if train else clip_index)

        frames = np.arange(start, start + t_count, dtype=np.int64)
        shake = F32(o["shake"])
        shake_y = shake_x = np.zeros((t_count, 1, 1), dtype=F32)
        if shake > 0:
            u = philox_uniform(key, SHAKE, 2 * frames.astype(np.uint64)[:, None] +
                               np.arange(2, dtype=np.uint64))
            shake_y, shake_x = (shake * (F32(2) * u.T - F32(1))).reshape(2, t_count, 1, 1)
        ys = np.arange(h, dtype=F32)[None, :, None]
        xs = np.arange(w, dtype=F32)[None, None, :]
        if shake > 0:
            rgb = sample_wrapped(background, ys - shake_y, xs - shake_x)
        else:
            rgb = np.broadcast_to(background[:, None], (3, t_count, h, w))
        for m in distractors + [obj]:
            oy, ox = m.position(frames)
            rgb = m.over(oy[:, None, None] + shake_y, ox[:, None, None] + shake_x, ys, xs, rgb)
        normal = philox_normal(noise_key, NOISE, np.arange(rgb.size, dtype=np.uint64))
        noisy = rgb + F32(o["noise"]) * normal.reshape(rgb.shape)
        return ((noisy - F32(0.5)) / F32(0.25)).astype(F32), label


def epoch_samples(videos, seed, epoch, train, clips_per_video=1):
    """training/data/epoch_order.cc for one process: (video, train, seed, clip_index) tuples."""
    if not train:
        return [(p // clips_per_video, False, 0, p % clips_per_video)
                for p in range(videos * clips_per_video)]
    perm = list(range(videos))
    r = philox4x32(seed, 2 * epoch, np.arange(videos, dtype=np.uint64))[0]
    for i in range(videos - 1, 0, -1):
        j = (int(r[i]) * (i + 1)) >> 32
        perm[i], perm[j] = perm[j], perm[i]
    c = philox4x32(seed, 2 * epoch + 1, np.arange(videos, dtype=np.uint64))
    return [(perm[p], True, int(c[0][p]) | (int(c[1][p]) << 32), 0) for p in range(videos)]


class Clips(torch.utils.data.Dataset):
    """Map-style: the sampler (in the main process) sends whole sample tuples to the workers."""

    def __init__(self, data):
        self.data = data

    def __getitem__(self, sample):
        video, train, seed, clip_index = sample
        frames, label = self.data.clip(video, train, seed, clip_index)
        return torch.from_numpy(frames), label


class EpochBatches(torch.utils.data.Sampler):
    """The batches of the epoch set by set_epoch, in the loader's order."""

    def __init__(self, videos, seed, batch, train, clips_per_video):
        self.videos, self.seed, self.batch, self.train = videos, seed, batch, train
        self.clips_per_video, self.epoch = clips_per_video, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __iter__(self):
        s = epoch_samples(self.videos, self.seed, self.epoch, self.train, self.clips_per_video)
        end = len(s) // self.batch * self.batch if self.train else len(s)
        return iter([s[i:i + self.batch] for i in range(0, end, self.batch)])

    def __len__(self):
        n = self.videos * (1 if self.train else self.clips_per_video)
        return n // self.batch if self.train else -(-n // self.batch)


def lr_at(flags, epochs, epoch, step, steps):
    """training/optim/lr_schedule.cc for constant, step and cosine, under the linear warm-up."""
    base, kind = float(flags["lr"]), flags["lr-schedule"]
    lr = base
    if kind == "step":
        gamma = float(flags["lr-gamma"])
        every = int(flags["lr-step-every"])
        milestones = [int(m) for m in flags["lr-steps"].split(",") if m]
        k = epoch // every if every > 0 else sum(m <= epoch for m in milestones)
        lr = base * gamma ** k
    elif kind == "cosine":
        lo = float(flags["lr-min"])
        t = min(1.0, (epoch + step / steps) / epochs)
        lr = lo + (base - lo) * 0.5 * (1.0 + math.cos(math.pi * t))
    warmup = int(flags["warmup-steps"]) or math.ceil(float(flags["warmup-epochs"]) * steps)
    if epoch * steps + step < warmup:
        lr *= (epoch * steps + step + 1) / warmup
    return lr


def param_groups(net, flags):
    """training/optim/sgd.cc's make_param_groups: first matching rule, 1-d parts without decay."""
    rules = []
    for entry in filter(None, flags["param-groups"].split(",")):
        parts = entry.split(":")
        rules.append((parts[0], float(parts[1]), float(parts[2]) if len(parts) > 2 else None))
    # A rule that matches nothing stopped repflow's run unless it was the default one, which
    # the trainer then drops.
    names = [name for name, _ in net.named_parameters()]
    rules = [r for r in rules if any(r[0] in name for name in names)]
    decay = float(flags["weight-decay"])
    no_decay_1d = flags["no-decay-1d"] == "true"
    slots = []
    for pattern, mult, wd in rules + [("default", 1.0, None)]:
        for nd in (False, True):
            slots.append({"params": [], "lr_mult": mult,
                          "weight_decay": 0.0 if nd else (decay if wd is None else wd)})
    for name, p in net.named_parameters():
        i = next((k for k, r in enumerate(rules) if r[0] in name), len(rules))
        slots[2 * i + (1 if no_decay_1d and p.dim() < 2 else 0)]["params"].append(p)
    return [g for g in slots if g["params"]]


class Average:
    """training/optim/averaging.cc: EMA or Polyak mean of the state dict, counters copied."""

    def __init__(self, net, flags):
        self.kind, self.decay = flags["average"], float(flags["ema-decay"])
        self.warmup = flags["ema-warmup"] == "true"
        self.polyak_start = int(flags["polyak-start"])
        self.tracked = list(net.state_dict().values())
        self.averages = [t.detach().clone() for t in self.tracked]
        self.updates = 0

    def update(self):
        self.updates += 1
        rate = 1.0
        if self.kind == "ema":
            n = self.updates - 1
            rate = 1.0 - (min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay)
        elif self.updates >= self.polyak_start:
            rate = 1.0 / (self.updates - self.polyak_start + 1)
        with torch.no_grad():
            floats = [(a, t) for a, t in zip(self.averages, self.tracked) if t.is_floating_point()]
            avg, live = [a for a, _ in floats], [t for _, t in floats]
            torch._foreach_add_(avg, torch._foreach_sub(live, avg), alpha=rate)
            for a, t in zip(self.averages, self.tracked):
                if not t.is_floating_point():
                    a.copy_(t)

    def swap(self):
        """Exchanges the live values and the averages (twice: back as they were)."""
        with torch.no_grad():
            for a, t in zip(self.averages, self.tracked):
                live = t.clone()
                t.copy_(a)
                a.copy_(live)


def evaluate(net, loader, device, classes):
    net.eval()
    k = min(5, classes)
    loss = top1 = topk = clips = 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = net(x)
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            top = logits.topk(k, 1).indices
            top1 += (top[:, 0] == y).sum().item()
            topk += (top == y[:, None]).any(1).sum().item()
            clips += len(y)
    net.train()
    return loss / clips, top1 / clips, topk / clips


REFUSED = {"data": "synthetic", "precision": "fp32", "distributed": "false", "resume": "",
           "init-weights": "", "sync-bn": "false"}


def check_ported(flags):
    for name, value in REFUSED.items():
        if flags.get(name, value) != value:
            raise SystemExit("error: recipe_torch: --%s %s is not ported (only %s)" %
                             (name, flags[name], value or "unset"))
    if flags["lr-schedule"] not in ("constant", "step", "cosine"):
        raise SystemExit("error: recipe_torch: --lr-schedule %s is not ported" %
                         flags["lr-schedule"])


def datasets(flags):
    given = {"seed": int(flags["data-seed"]), "frames": int(flags["frames"] or 8)}
    given["height"] = given["width"] = int(flags["size"] or 32)
    if flags["synthetic-classes"]:
        given["classes"] = int(flags["synthetic-classes"])
    train = synthetic_options(flags["synthetic-preset"], size=int(flags["synthetic-train"]),
                              **given)
    val = synthetic_options(flags["synthetic-preset"], split="val",
                            size=int(flags["synthetic-val"]), **given)
    return SyntheticMotion(train), SyntheticMotion(val)


def loader(data, flags, train):
    workers = int(flags["workers"])
    batches = EpochBatches(len(data), int(flags["seed"]), int(flags["batch-size"]), train,
                           1 if train else int(flags["clips-per-video"]))
    return torch.utils.data.DataLoader(
        Clips(data), batch_sampler=batches, num_workers=workers, persistent_workers=True,
        prefetch_factor=max(1, -(-int(flags["prefetch"]) // workers)))


def main():
    config = json.load(sys.stdin)
    flags = config["flags"]
    check_ported(flags)
    torch.set_num_threads(config["threads"])
    device = torch.device(config["device"])
    epochs, batch = int(flags["epochs"]), int(flags["batch-size"])
    train_set, val_set = datasets(flags)
    classes = train_set.o["classes"]
    torch.manual_seed(int(flags["seed"]))
    net = build(config["model"]).to(device)
    parameters = sum(p.numel() for p in net.parameters())
    if parameters != config["parameters"]:
        raise SystemExit("recipe_torch: the PyTorch network has %d parameters, repflow's %d" %
                         (parameters, config["parameters"]))
    sgd = torch.optim.SGD(param_groups(net, flags), lr=float(flags["lr"]),
                          momentum=float(flags["momentum"]), nesterov=flags["nesterov"] == "true")
    average = Average(net, flags) if flags["average"] != "none" else None
    clip_grad = float(flags["clip-grad"])
    train_loader, val_loader = loader(train_set, flags, True), loader(val_set, flags, False)
    steps = len(train_loader.batch_sampler)

    start = time.perf_counter()
    wait = step_time = train_seconds = 0.0
    clips = 0
    net.train()
    for epoch in range(epochs):
        epoch_start = time.perf_counter()
        train_loader.batch_sampler.set_epoch(epoch)
        loss_sum = correct = 0.0
        t = time.perf_counter()
        for step, (x, y) in enumerate(train_loader):
            t0 = time.perf_counter()
            wait += t0 - t
            x, y = x.to(device), y.to(device)
            logits = net(x)
            loss = F.cross_entropy(logits, y)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise SystemExit("recipe_torch: the loss became %s at epoch %d step %d" %
                                 (loss_value, epoch + 1, step + 1))
            sgd.zero_grad(set_to_none=True)
            loss.backward()
            if clip_grad > 0:
                torch.nn.utils.clip_grad_norm_(net.parameters(), clip_grad)
            lr = lr_at(flags, epochs, epoch, step, steps)
            for g in sgd.param_groups:
                g["lr"] = lr * g["lr_mult"]
            sgd.step()
            if average:
                average.update()
            loss_sum += loss_value * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            clips += len(y)
            t = time.perf_counter()
            step_time += t - t0
        epoch_train = time.perf_counter() - epoch_start
        train_seconds += epoch_train
        if average:
            average.swap()
        val_loss, top1, topk = evaluate(net, val_loader, device, classes)
        if average:
            average.swap()
        print("epoch %d/%d: loss %.4f top1 %.2f%% %.1f clips/s | val loss %.4f top1 %.2f%% "
              "top%d %.2f%%" % (epoch + 1, epochs, loss_sum / (steps * batch),
                                100 * correct / (steps * batch), steps * batch / epoch_train,
                                val_loss, 100 * top1, min(5, classes), 100 * topk), flush=True)
    seconds = time.perf_counter() - start
    print("final: val_top1=%.2f val_top5=%.2f epochs=%d seconds=%.2f" %
          (100 * top1, 100 * topk, epochs, seconds))
    print("BENCH " + json.dumps({
        "bench": "recipe", "impl": "pytorch", "device": config["device"],
        "config": config["config"],
        "threads": config["threads"], "seconds": seconds, "train_seconds": train_seconds,
        "data_wait_seconds": wait, "step_seconds": step_time, "clips": clips,
        "clips_per_s": clips / train_seconds, "val_top1": 100 * top1, "val_top5": 100 * topk,
        "epochs": epochs, "torch_version": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
