#!/usr/bin/python3
"""Converts a PyTorch checkpoint to a repflow weight file (docs/weights.md).

Reads a state dict, a dict holding one under "state_dict" or "model", or (with --unsafe-pickle)
a whole pickled module; strips DataParallel's "module." prefix and drops BatchNorm's
num_batches_tracked counters. With --inflate-3d, 2D conv weights (O, I, kH, kW) become 3D ones
(O, I, T, kH, kW) by repeating them over time, as the paper's code does for ImageNet weights.
With --model, the file's "meta" field records the model and, as given, its options, class names
and clip geometry (docs/weights.md, "Metadata"), which //tools:infer takes as its flags'
defaults.

The checkpoint is unpickled with torch.load(weights_only=True): only tensors and plain containers,
so a hostile file cannot run code. A whole pickled module needs --unsafe-pickle, which unpickles
everything and so runs whatever code the file names: only for files you trust. Tensors are sized
from their shapes before anything is computed: a file holding more than MAX_VALUES values
(MAX_PLAIN_VALUES with --plain), e.g. a tiny checkpoint with a huge expand()ed view, is refused.

Run with Debian's /usr/bin/python3 (python3-torch). Exit codes: 0 done, 2 bad usage (the message
names the flag), an unreadable --class-names file, or an unreadable or unconvertible checkpoint
(the message names the file and the tensor). Every error is one line starting with "error:".
"""
import argparse
import base64
import fnmatch
import inspect
import json
import math
import os
import stat
import sys
import tempfile
import zlib

FORMAT = "repflow-weights"
VERSION = 1
# The model options a weight file's metadata may hold (models/registry.h, model_option_names)
# besides classes, which has a flag of its own.
MODEL_OPTIONS = ("width", "stem", "flow", "flow-iters", "flow-stages", "fcf", "reduced-channels",
                 "dropout", "flow-learn", "fusion", "input")
NORMS = {
    "imagenet": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
    "paper": {"mean": [0.5, 0.5, 0.5], "std": [-0.5, -0.5, -0.5]},  # 1 - 2 * pixel / 255
}
CLIP_FLAGS = ("frames", "stride", "decode_size", "resize", "size", "clips")  # meta.input's counts
# The readers' bounds on meta.input's counts (training/data/frame_dataset.h's kMaxClipFrames,
# kMaxFrameSide, kMaxClipsPerVideo): a file beyond them would be written, then refused by infer.
MAX_CLIP_FRAMES = 10000
MAX_FRAME_SIDE = 7680
MAX_CLIPS_PER_VIDEO = 1000
MAX_DIMS = 8  # framework/layout.h's kMaxDims: a reader refuses a shape with more dimensions
# The largest --time-kernel / --time T: far beyond any clip length, while the paper's longest
# temporal kernel is 7; a larger T is a typo that would only exhaust memory.
MAX_TIME = 256
# training/data/list_parsing.h's kMaxClasses, the most class names a reader takes, and a bound on
# a --class-names file's size that leaves 160 bytes for each of them.
MAX_CLASSES = 100000
MAX_CLASS_NAMES_BYTES = 16 << 20
# The most float32 values a converted file may hold, in each tensor and in all: 512 MiB of
# float32. repflow's reader has no size bound of its own to mirror (only memory bounds it), so
# this is the converter's: 4x the largest models the project supports (r3d_18, 33.4M values;
# kinetics_repflow_r50, 29.8M). It is checked on the shapes before any tensor is materialised,
# since a tiny checkpoint may hold a huge expand()ed view of one stored value.
MAX_VALUES = 1 << 27
FLOAT32_BYTES = 4
# --plain writes up to 25 characters a value and a reader's parsed JSON holds each as a node:
# 1/4 of base64's bound gives files of about the same size; r3d_18 still fits.
MAX_PLAIN_VALUES = 1 << 25
# framework/tensor.cc's kMaxElements: a reader refuses a shape whose sizes, a 0 counted as 1,
# multiply to more (an empty tensor's strides still do), e.g. [0, 2^40, 2^40].
READER_MAX_EXTENT = 1 << 60
# What a weights-only load (torch.load(weights_only=True)) says, after "WeightsUnpickler error: ",
# when the pickle names a class or function beyond tensors and plain containers: such a file
# needs --unsafe-pickle. Other failures (e.g. "Unsupported operand", garbage) are unreadable.
WEIGHTS_ONLY_ERROR = "WeightsUnpickler error: "
NEEDS_UNSAFE_PICKLE = ("Unsupported class", "Trying to instantiate unsupported class",
                       "Trying to call reduce for unrecognized function", "Can only build")


class ConvertError(Exception):
    pass


class ArgumentParser(argparse.ArgumentParser):
    """Usage errors as every other error: the usage, then a line starting with "error:"."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {message}\n")


def open_regular(path, where, unreadable="cannot read: {}"):
    """The file at path opened for binary reading. Like framework/read_file.cc, refuses anything
    but a regular file (a directory, /dev/zero, a FIFO), checked on the opened file itself; the
    open does not block on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise ConvertError(f"{where}: {unreadable.format(e.strerror)}") from e
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConvertError(f"{where}: not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def supports_weights_only(torch):
    try:
        return "weights_only" in inspect.signature(torch.load).parameters
    except (TypeError, ValueError):
        return False


def load_checkpoint(path, torch, unsafe_pickle):
    """torch.load's object: weights only (tensors and plain containers, no code run) unless
    unsafe_pickle, which unpickles anything, e.g. a whole module, running the code it names."""
    if not unsafe_pickle and not supports_weights_only(torch):
        raise ConvertError(f"{path}: torch {torch.__version__} cannot load weights only "
                           "(torch.load's weights_only needs torch 1.13 or later); pass "
                           "--unsafe-pickle to unpickle it whole, which runs any code the file "
                           "names, only for a file you trust")
    with open_regular(path, path, unreadable="no such readable file ({})") as f:
        try:
            if unsafe_pickle:
                return torch.load(f, map_location="cpu")
            return torch.load(f, map_location="cpu", weights_only=True)
        except Exception as e:  # pickle, zip and torch errors alike mean an unreadable file
            message = first_line(e)
            at = message.find(WEIGHTS_ONLY_ERROR)
            reason = message[at + len(WEIGHTS_ONLY_ERROR):] if at >= 0 else None
            if not unsafe_pickle and reason is not None and reason.startswith(NEEDS_UNSAFE_PICKLE):
                raise ConvertError(
                    f"{path}: holds more than tensors and plain containers ({reason}), e.g. a "
                    "whole pickled module, whose unpickling runs code the file names; pass "
                    "--unsafe-pickle to load it, only for a file you trust") from e
            raise ConvertError(f"{path}: cannot read as a PyTorch checkpoint: "
                               f"{reason if reason is not None else message}") from e


def load_state_dict(path, torch, unsafe_pickle=False):
    obj = load_checkpoint(path, torch, unsafe_pickle)
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj:
            obj = obj[key]
            break
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise ConvertError(f"{path}: holds a {type(obj).__name__}, not a state dict or module")
    for name, value in obj.items():
        if not isinstance(name, str):
            raise ConvertError(f"{path}: key {name!r} ({type(name).__name__}) is not a string "
                               "(a state dict names its tensors)")
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


def first_line(e):
    """An exception's message for a one-line error: torch's can run to dozens of lines."""
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def check_tensor(name, t, torch, path):
    """Refuses what cannot become a weight file's float32 tensor, before anything is computed."""
    if t.layout != torch.strided:
        raise ConvertError(f"{path}: tensor '{name}' has layout {t.layout}; only dense "
                           "(strided) tensors can be converted")
    if t.is_meta:
        raise ConvertError(f"{path}: tensor '{name}' is on the meta device, which holds no values")
    if not t.is_floating_point():
        raise ConvertError(f"{path}: tensor '{name}' has dtype {t.dtype}; only floating-point "
                           "tensors can be converted to float32")
    if t.dim() > MAX_DIMS:
        raise ConvertError(f"{path}: tensor '{name}' has shape {list(t.shape)}, more than "
                           f"{MAX_DIMS} dimensions (readers refuse it)")


def parse_time_patterns(specs):
    patterns = []
    for spec in specs:
        pattern, sep, t = spec.rpartition("=")
        if (not sep or not pattern or not t.isascii() or not t.isdigit()
                or not 1 <= int(t) <= MAX_TIME):
            raise ConvertError(f"--time {spec!r}: expected PATTERN=T with T an integer in "
                               f"1..{MAX_TIME}")
        patterns.append((pattern, int(t)))
    return patterns


def inflation_times(state, args, patterns, path):
    """Name -> T for every 4-D tensor: from the first --time pattern matching its name, else
    --time-kernel. Other tensors (biases, batch norm, linear) are not inflated."""
    used = set()
    times = {}
    for name, t in state.items():
        if t.dim() != 4:
            continue
        match = next(((p, n) for p, n in patterns if fnmatch.fnmatchcase(name, p)), None)
        if match:
            used.add(match[0])
        times[name] = match[1] if match else args.time_kernel
    unused = [p for p, _ in patterns if p not in used]
    if unused:
        # A mistyped pattern would otherwise leave those weights at --time-kernel unnoticed.
        raise ConvertError(f"{path}: --time pattern(s) {', '.join(unused)} match no 4-D tensor")
    return times


def inflated_shape(shape, time):
    return shape[:2] + [time] + shape[2:]


def check_sizes(state, times, plain, path):
    """Refuses, from the shapes alone (a view of one stored value may claim any size), a tensor
    or a file with more values than a converted file may hold, and a shape a reader refuses;
    times: the inflation's T's."""
    limit = MAX_PLAIN_VALUES if plain else MAX_VALUES
    encoding = "a --plain file" if plain else "a converted file"
    hint = (f" (without --plain, {MAX_VALUES})" if plain else "")
    total = 0
    for name, t in state.items():
        shape = list(t.shape)
        described = f"shape {shape}"
        if name in times:
            shape = inflated_shape(shape, times[name])
            described += f", inflated to {shape}"
        extent = math.prod(max(size, 1) for size in shape)
        if extent > READER_MAX_EXTENT:
            raise ConvertError(
                f"{path}: tensor '{name}' has {described}, whose sizes (a 0 counted as 1) "
                f"multiply to {extent}, more than the {READER_MAX_EXTENT} a reader takes")
        n = math.prod(shape)
        if n > limit:
            raise ConvertError(
                f"{path}: tensor '{name}' has {described}: {n} values ({n * FLOAT32_BYTES} "
                f"bytes as float32), more than the {limit} values ({limit * FLOAT32_BYTES} "
                f"bytes) {encoding} may hold{hint}")
        total += n
    if total > limit:
        raise ConvertError(
            f"{path}: the {len(state)} tensors hold {total} values ({total * FLOAT32_BYTES} "
            f"bytes as float32) in all, more than the {limit} values ({limit * FLOAT32_BYTES} "
            f"bytes) {encoding} may hold{hint}; --exclude can drop tensors")


def inflate(state, times, args):
    """Repeats every tensor of times over a new time axis 2, T times."""
    out = {}
    for name, t in state.items():
        if name not in times:
            out[name] = t
            continue
        time = times[name]
        t = t.unsqueeze(2).repeat(1, 1, time, 1, 1)
        out[name] = t / time if args.divide_by_time else t
    return out


def encode(name, t, torch, plain, path):
    original = t.detach()
    t = original.to(torch.float32).contiguous()
    if not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).flatten().nonzero()[0])
        value = original.flatten()[bad].item()
        # A wider type's finite value can overflow float32: that is not the file's nan or inf.
        why = (f", beyond float32's range (magnitude at most {torch.finfo(torch.float32).max!r})"
               if math.isfinite(value) else " (only finite values are allowed)")
        raise ConvertError(f"{path}: tensor '{name}': data[{bad}] is {value}{why}")
    shape = list(t.shape)
    raw = t.numpy().astype("<f4", copy=False).tobytes()
    # The CRC-32 of the float32 little-endian bytes, whatever the encoding: a reader refuses data
    # that does not match it (a damaged file still parses as valid floats).
    crc = zlib.crc32(raw)
    if plain:
        # float32 -> Python float (double) is exact, and json writes the shortest decimal that
        # reads back as that double, so the values round-trip bit for bit.
        return {"shape": shape, "crc32": crc, "data": t.flatten().tolist()}
    return {"shape": shape, "encoding": "base64-f32le", "crc32": crc,
            "data": base64.b64encode(raw).decode()}


def count(lo, hi):
    """An argparse type: an integer in lo..hi."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is outside {lo}..{hi}")
        return value
    return parse


def parse_options(specs, parser):
    options = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep or not value:
            parser.error(f"--option {spec!r}: expected KEY=VALUE with a non-empty VALUE")
        if key == "classes":
            parser.error("--option classes: give the class count with --classes")
        if key not in MODEL_OPTIONS:
            parser.error(f"--option {spec!r}: unknown option {key!r}; known options: "
                         f"{', '.join(MODEL_OPTIONS)}")
        if key in options:
            parser.error(f"--option {key} given twice")
        options[key] = value
    return options


def read_class_names(path):
    r"""Index -> name from one name per line (blank lines skipped), or from a .json object
    {"\"NAME\"": INDEX} (the paper's Kinetics class map; the quotes are optional), as
    training/data/video_list.cc's read_class_names reads them."""
    where = f"--class-names {path}"
    with open_regular(path, where) as f:
        try:
            # One byte more than the limit tells a file that grew past it since it was opened.
            data = f.read(MAX_CLASS_NAMES_BYTES + 1)
        except OSError as e:
            raise ConvertError(f"{where}: cannot read: {e.strerror}") from e
    if len(data) > MAX_CLASS_NAMES_BYTES:
        raise ConvertError(f"{where}: more than {MAX_CLASS_NAMES_BYTES} bytes, the most a class "
                           "name file may hold")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConvertError(f"{where}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    if not path.endswith(".json"):
        names = [line.strip() for line in text.splitlines() if line.strip()]
        if not names:
            raise ConvertError(f"{where}: no class names")
        if len(names) > MAX_CLASSES:
            raise ConvertError(f"{where}: more than {MAX_CLASSES} classes")
        return names

    def unique(pairs):
        keys = set()
        for key, _ in pairs:
            if key in keys:
                raise ConvertError(f"{where}: class {key!r} given twice")
            keys.add(key)
        return dict(pairs)
    try:
        index = json.loads(text, object_pairs_hook=unique)
    except ValueError as e:
        raise ConvertError(f"{where}: invalid JSON: {e}") from e
    except RecursionError as e:
        raise ConvertError(f"{where}: invalid JSON: nested too deeply") from e
    if not isinstance(index, dict) or not index:
        raise ConvertError(f"{where}: expected a JSON object {{NAME: INDEX, ...}}")
    if len(index) > MAX_CLASSES:
        raise ConvertError(f"{where}: more than {MAX_CLASSES} classes")
    names = [None] * len(index)
    for key, i in index.items():
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(names):
            raise ConvertError(f"{where}: class {key!r} has index {json.dumps(i)}, expected "
                               f"0 ... {len(names) - 1}")
        if names[i] is not None:
            raise ConvertError(f"{where}: two classes have index {i}")
        name = key[1:-1] if len(key) >= 2 and key[0] == key[-1] == '"' else key
        if not name:
            raise ConvertError(f"{where}: class {i} has an empty name")
        names[i] = name
    return names


def make_meta(args, parser):
    """The "meta" field from the metadata flags (None without --model): only what is given."""
    if args.model is None:
        given = [f"--{flag.replace('_', '-')}"
                 for flag in ("option", "classes", "class_names", "norm") + CLIP_FLAGS
                 if getattr(args, flag) not in (None, [])]
        if given:
            parser.error(f"{', '.join(given)}: metadata flags need --model")
        return None
    if not args.model:
        parser.error("--model: the name is empty")
    options = parse_options(args.option, parser)
    classes = args.classes
    names = None
    if args.class_names is not None:
        names = read_class_names(args.class_names)
        if classes is None:
            classes = len(names)
        elif classes != len(names):
            raise ConvertError(f"--classes {classes} disagrees with --class-names "
                               f"{args.class_names}, which holds {len(names)} names")
    if classes is not None:
        options["classes"] = str(classes)
    meta = {"model": {"name": args.model, "options": options}}
    if names is not None:
        meta["class_names"] = names
    clip = {flag: getattr(args, flag) for flag in CLIP_FLAGS if getattr(args, flag) is not None}
    if args.norm is not None:
        clip["norm"] = NORMS[args.norm]
    if clip:
        meta["input"] = clip
    return meta


def write_atomic(path, text):
    """A temporary file in the same directory, flushed and renamed: never a half-written file."""
    directory = os.path.dirname(os.path.abspath(path))
    # The rename replaces whatever the name holds: run as root, an output of /dev/null would turn
    # the device into a regular file. Only a regular file (or a name not yet taken) is replaced.
    try:
        existing = os.stat(path).st_mode
    except OSError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing):
        raise ConvertError(f"{path}: exists and is not a regular file (a directory, device or "
                           "pipe); the output must be a file's path")
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
    except BaseException as e:  # an interrupt too: no temporary file is left behind
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise ConvertError(f"{path}: cannot write: {e.strerror} (the previous file, if any, "
                               "is kept)") from e
        raise


def convert(args, patterns, meta, torch):
    """The checkpoint's tensors, the names --exclude dropped, the number inflated, and the
    weight file's text."""
    state = load_state_dict(args.checkpoint, torch, args.unsafe_pickle)
    dropped = [n for n in state if any(fnmatch.fnmatchcase(n, p) for p in args.exclude)]
    state = {n: t for n, t in state.items() if n not in dropped}
    if not state:
        # A weight file of no tensors loads into nothing: --init-weights refuses it, infer fails
        # on every tensor missing.
        raise ConvertError(f"{args.checkpoint}: no tensor to convert" +
                           (f" (--exclude dropped all {len(dropped)})" if dropped else ""))
    for name, t in state.items():
        check_tensor(name, t, torch, args.checkpoint)
    before = {n: tuple(t.shape) for n, t in state.items()}
    times = inflation_times(state, args, patterns, args.checkpoint) if args.inflate_3d else {}
    # Before anything is computed: inflating and encoding materialise every value.
    check_sizes(state, times, args.plain, args.checkpoint)
    if args.inflate_3d:
        state = inflate(state, times, args)
    tensors = {}
    for name, t in state.items():
        try:
            tensors[name] = encode(name, t, torch, args.plain, args.checkpoint)
        except ConvertError:
            raise
        except Exception as e:  # e.g. memory for a large tensor on a small machine
            raise ConvertError(f"{args.checkpoint}: tensor '{name}': {first_line(e)}") from e
    document = {"format": FORMAT, "version": VERSION}
    if meta is not None:
        document["meta"] = meta
    document["tensors"] = tensors
    inflated = sum(1 for n, t in state.items() if tuple(t.shape) != before[n])
    return state, dropped, inflated, json.dumps(document, allow_nan=False)


def main(argv):
    parser = ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("checkpoint", help="the PyTorch file (torch.save output)")
    parser.add_argument("out", help="the repflow weight file to write (JSON)")
    parser.add_argument("--plain", action="store_true",
                        help="write plain number arrays instead of base64-f32le (at most "
                        f"{MAX_PLAIN_VALUES} values in all; base64-f32le takes {MAX_VALUES})")
    parser.add_argument("--unsafe-pickle", action="store_true",
                        help="unpickle the checkpoint whole, as torch.load(weights_only=False): "
                        "needed for a whole pickled module (torch.save(model)), but it runs any "
                        "code the file names, so only for a file you trust; without it only "
                        "tensors and plain containers load (weights_only=True)")
    parser.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                        help="drop tensors whose name matches this glob (repeatable), e.g. "
                        "'fc.*' for a new classifier")
    parser.add_argument("--inflate-3d", action="store_true",
                        help="repeat every 4-D tensor (2D conv weights) over a new time axis")
    parser.add_argument("--time-kernel", type=count(1, MAX_TIME), default=1, metavar="T",
                        help="with --inflate-3d: the time size for tensors no --time matches "
                        f"(1..{MAX_TIME})")
    parser.add_argument("--time", action="append", default=[], metavar="PATTERN=T",
                        help="with --inflate-3d: the time size for names matching the glob "
                        f"(repeatable; the first match wins; T in 1..{MAX_TIME})")
    parser.add_argument("--divide-by-time", action="store_true",
                        help="with --inflate-3d: divide inflated weights by T (I3D's rescaling; "
                        "the paper's code does not)")
    metadata = parser.add_argument_group(
        "metadata", "the file's \"meta\" field (docs/weights.md): only what is given is "
        "written; every flag here needs --model")
    metadata.add_argument("--model", metavar="NAME",
                          help="the registry model the tensors belong to, e.g. resnet18_2d")
    metadata.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                          help="a model option as the flag spells it, e.g. flow-iters=20 "
                          f"(repeatable; KEY one of {', '.join(MODEL_OPTIONS)})")
    metadata.add_argument("--classes", type=count(1, MAX_CLASSES), metavar="N",
                          help="the class count; without it, the number of --class-names")
    metadata.add_argument("--class-names", metavar="FILE",
                          help="class names, one per line, or a .json {\"\\\"NAME\\\"\": "
                          "INDEX} map (the paper's Kinetics class map)")
    metadata.add_argument("--norm", choices=sorted(NORMS),
                          help="input normalisation: imagenet (torchvision's mean/std) or paper "
                          "(1 - 2 * pixel / 255)")
    metadata.add_argument("--frames", type=count(1, MAX_CLIP_FRAMES), metavar="T", help="clip length")
    metadata.add_argument("--stride", type=count(1, MAX_CLIP_FRAMES), metavar="S",
                          help="frames between clip frames")
    metadata.add_argument("--decode-size", type=count(0, MAX_FRAME_SIDE), metavar="D",
                          help="video files decoded with this shorter side before --resize "
                               "(0: full size)")
    metadata.add_argument("--resize", type=count(0, MAX_FRAME_SIDE), metavar="R",
                          help="shorter side after resizing, 0 keeps the frames' size")
    metadata.add_argument("--size", type=count(0, MAX_FRAME_SIDE), metavar="S",
                          help="side of the centre crop, 0 keeps the whole frame")
    metadata.add_argument("--clips", type=count(1, MAX_CLIPS_PER_VIDEO), metavar="N",
                          help="evaluation clips per video")
    args = parser.parse_args(argv)
    if not args.inflate_3d and (args.time or args.divide_by_time or args.time_kernel != 1):
        parser.error("--time, --time-kernel and --divide-by-time need --inflate-3d")
    patterns = parse_time_patterns(args.time)
    meta = make_meta(args, parser)
    try:
        import torch
    except ImportError:
        raise ConvertError(f"cannot import torch with {sys.executable}: run with Debian's "
                           "/usr/bin/python3 and python3-torch installed")
    try:
        state, dropped, inflated, text = convert(args, patterns, meta, torch)
    except ConvertError:
        raise
    except Exception as e:
        # The last line of defence: whatever torch (or a hostile pickle) raises that the checks
        # above did not foresee is still an error about the input, not a traceback.
        raise ConvertError(f"{args.checkpoint}: {first_line(e)}") from e
    write_atomic(args.out, text)
    print(f"{args.out}: {len(state)} tensors, {sum(t.numel() for t in state.values())} values "
          f"({inflated} inflated to 3D, {len(dropped)} excluded)"
          + (f", metadata for {args.model}" if meta is not None else ""))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ConvertError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
