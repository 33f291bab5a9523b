#!/usr/bin/python3
"""Converts a PyTorch checkpoint to a repflow weight file (docs/weights.md).

Reads a state dict, a dict holding one under "state_dict" or "model", or a whole pickled
module; strips DataParallel's "module." prefix and drops BatchNorm's num_batches_tracked
counters. With --inflate-3d, 2D conv weights (O, I, kH, kW) become 3D ones (O, I, T, kH, kW)
by repeating them over time, as the paper's code does for ImageNet weights.

Run with Debian's /usr/bin/python3 (python3-torch). Exit codes: 0 done, 2 bad usage or an
unreadable or unconvertible checkpoint (the message names the file and the tensor).
"""
import argparse
import base64
import fnmatch
import json
import os
import sys
import tempfile

FORMAT = "repflow-weights"
VERSION = 1


class ConvertError(Exception):
    pass


def load_state_dict(path, torch):
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # pickle, zip and torch errors alike mean an unreadable file
        raise ConvertError(f"{path}: cannot read as a PyTorch checkpoint: {e}") from e
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj:
            obj = obj[key]
            break
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise ConvertError(f"{path}: holds a {type(obj).__name__}, not a state dict or module")
    for name, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise ConvertError(
                f"{path}: entry '{name}' is a {type(value).__name__}, not a tensor "
                "(expected a state dict, or a dict with one under \"state_dict\" or \"model\")")
    # DataParallel names every entry "module.<name>"; a model with a child that happens to be
    # called "module" has other names beside it, so only an all-prefixed dict is stripped.
    if obj and all(name.startswith("module.") for name in obj):
        obj = {name[len("module."):]: value for name, value in obj.items()}
    return {name: value for name, value in obj.items()
            if not name.endswith("num_batches_tracked")}


def parse_time_patterns(specs):
    patterns = []
    for spec in specs:
        pattern, sep, t = spec.rpartition("=")
        if not sep or not pattern or not t.isdigit() or int(t) < 1:
            raise ConvertError(f"--time {spec!r}: expected PATTERN=T with T a positive integer")
        patterns.append((pattern, int(t)))
    return patterns


def inflate(state, args, path):
    """Repeats every 4-D tensor over a new time axis 2; T from the first --time pattern matching
    its name, else --time-kernel. Other tensors (biases, batch norm, linear) stay as they are."""
    patterns = parse_time_patterns(args.time)
    used = set()
    out = {}
    for name, t in state.items():
        if t.dim() != 4:
            out[name] = t
            continue
        match = next(((p, n) for p, n in patterns if fnmatch.fnmatchcase(name, p)), None)
        if match:
            used.add(match[0])
        time = match[1] if match else args.time_kernel
        t = t.unsqueeze(2).repeat(1, 1, time, 1, 1)
        out[name] = t / time if args.divide_by_time else t
    unused = [p for p, _ in patterns if p not in used]
    if unused:
        # A mistyped pattern would otherwise leave those weights at --time-kernel unnoticed.
        raise ConvertError(f"{path}: --time pattern(s) {', '.join(unused)} match no 4-D tensor")
    return out


def encode(name, t, torch, plain, path):
    if not t.is_floating_point():
        raise ConvertError(f"{path}: tensor '{name}' has dtype {t.dtype}; only floating-point "
                           "tensors can be converted to float32")
    t = t.detach().to(torch.float32).contiguous()
    if not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).flatten().nonzero()[0])
        raise ConvertError(f"{path}: tensor '{name}': data[{bad}] is "
                           f"{t.flatten()[bad].item()} (only finite values are allowed)")
    shape = list(t.shape)
    if plain:
        # float32 -> Python float (double) is exact, and json writes the shortest decimal that
        # reads back as that double, so the values round-trip bit for bit.
        return {"shape": shape, "data": t.flatten().tolist()}
    raw = t.numpy().astype("<f4", copy=False).tobytes()
    return {"shape": shape, "encoding": "base64-f32le", "data": base64.b64encode(raw).decode()}


def write_atomic(path, text):
    """A temporary file in the same directory, flushed and renamed: never a half-written file."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".tmp.")
    except OSError as e:
        raise ConvertError(f"{path}: cannot create a temporary file in {directory}: "
                           f"{e.strerror}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        os.unlink(tmp)
        raise ConvertError(f"{path}: cannot write: {e.strerror} (the previous file, if any, "
                           "is kept)") from e


def main(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("checkpoint", help="the PyTorch file (torch.save output)")
    parser.add_argument("out", help="the repflow weight file to write (JSON)")
    parser.add_argument("--plain", action="store_true",
                        help="write plain number arrays instead of base64-f32le")
    parser.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                        help="drop tensors whose name matches this glob (repeatable), e.g. "
                        "'fc.*' for a new classifier")
    parser.add_argument("--inflate-3d", action="store_true",
                        help="repeat every 4-D tensor (2D conv weights) over a new time axis")
    parser.add_argument("--time-kernel", type=int, default=1, metavar="T",
                        help="with --inflate-3d: the time size for tensors no --time matches")
    parser.add_argument("--time", action="append", default=[], metavar="PATTERN=T",
                        help="with --inflate-3d: the time size for names matching the glob "
                        "(repeatable; the first match wins)")
    parser.add_argument("--divide-by-time", action="store_true",
                        help="with --inflate-3d: divide inflated weights by T (I3D's rescaling; "
                        "the paper's code does not)")
    args = parser.parse_args(argv)
    if args.time_kernel < 1:
        parser.error("--time-kernel must be at least 1")
    if not args.inflate_3d and (args.time or args.divide_by_time or args.time_kernel != 1):
        parser.error("--time, --time-kernel and --divide-by-time need --inflate-3d")
    try:
        import torch
    except ImportError:
        raise ConvertError(f"cannot import torch with {sys.executable}: run with Debian's "
                           "/usr/bin/python3 and python3-torch installed")
    if not os.path.isfile(args.checkpoint) or not os.access(args.checkpoint, os.R_OK):
        raise ConvertError(f"{args.checkpoint}: no such readable file")
    state = load_state_dict(args.checkpoint, torch)
    dropped = [n for n in state if any(fnmatch.fnmatchcase(n, p) for p in args.exclude)]
    state = {n: t for n, t in state.items() if n not in dropped}
    before = {n: tuple(t.shape) for n, t in state.items()}
    if args.inflate_3d:
        state = inflate(state, args, args.checkpoint)
    tensors = {name: encode(name, t, torch, args.plain, args.checkpoint)
               for name, t in state.items()}
    text = json.dumps({"format": FORMAT, "version": VERSION, "tensors": tensors},
                      allow_nan=False)
    write_atomic(args.out, text)
    inflated = sum(1 for n, t in state.items() if tuple(t.shape) != before[n])
    print(f"{args.out}: {len(tensors)} tensors, {sum(t.numel() for t in state.values())} values "
          f"({inflated} inflated to 3D, {len(dropped)} excluded)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ConvertError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
