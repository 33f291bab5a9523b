#!/usr/bin/python3
"""README.md's commands, run (issue 19, "Honest interfaces").

1. Every command of a ```sh block of README.md that runs a repflow binary is run, with the real
   binary from this test's runfiles, against tiny data this script writes: the README's
   placeholder inputs (frame folders, list files, weight files, a .npy, images, a PyTorch
   checkpoint, run directories) are made to exist under the same relative names in a scratch
   directory, and flags that keep each run small are appended (the binaries' flag parser lets a
   later flag override an earlier one). Every command must exit 0. Commands that cannot run
   inside a test (bazel test itself, the GPU suite) are listed as skipped, with the reason. A
   README command of a form this script does not know fails the test: the harness must be taught
   about it, not silently pass it by.
2. Every `--name` in README.md (commands, prose and tables) must be a flag of at least one of
   the binaries (their `--help`), or of mpirun or bazel (an explicit allow-list below).

Usage (tests/BUILD passes these): readme_test.py README.md NAME=PATH... where NAME is a Bazel
label without the leading // (training:train, tools:infer, ...) or `fixtures` (the
@shared_fixtures index.txt) and PATH the runfiles path.
"""

import glob
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import time
import zlib

# Flags README.md may name that belong to other programs, not to a repflow binary.
FOREIGN_FLAGS = {
    "config": "bazel (bazel test --config=gpu)",
    "oversubscribe": "mpirun",
    "hostfile": "mpirun",
    "map-by": "mpirun",
    "bind-to": "mpirun",
}

# Binaries whose --help lists their flags; the README's flags must each be in one of them.
# Extra argument lists give the help of other models (their options differ).
HELP_RUNS = {
    "training:train": [[], ["--model", "kinetics_repflow_r50"], ["--model", "resnet18_2d"]],
    "training:experiments": [[]],
    "tools:infer": [[], ["--model", "kinetics_repflow_r50"]],
    "tools:flow": [[]],
    "tools:show_flow": [[]],
    "tools:check_fixture": [[]],
    "tools:bench_ops": [[]],
    "tools:bench_model": [[], ["--model", "resnet18_2d"]],
    "tools:bench_flow": [[]],
    "tools:bench_tvl1": [[]],
    "tools:bench_weights": [[]],
    "tools:bench_loader": [[]],
    "tools:bench_recipe": [[]],
    "tools:convert_torch.py": [[]],
}

# What a run's output must show besides exit status 0 (README.md documents these lines).
EXPECT = {
    "training:train": r"^final: val_top1=",
    "training:experiments": r"^wrote .*table\d\.md and .*table\d\.png",
    "tools:infer": r"^time: read ",
    "tools:flow": r"mean_flow_x=",
    "tools:show_flow": r"^wrote .* scale ",
    "tools:check_fixture": r"^fixtures: [1-9]\d* passed, 0 failed",
}

# Each command's limit, seconds: a hang fails the test with its output instead of stalling it.
# The sanitizer configurations (.bazelrc sets their options) run code about three times slower.
COMMAND_TIMEOUT = 240 * (3 if "ASAN_OPTIONS" in os.environ or "TSAN_OPTIONS" in os.environ else 1)

PYTHON = "/usr/bin/python3"


# ------------------------------------------------------------------------------------------
# Tiny files: PNG frames, .npy, lists.


def write_png(path, width, height, pixel):
    """An 8-bit RGB PNG; pixel(x, y) gives (r, g, b)."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows.extend(pixel(x, y))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n" +
           chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)


def texture(x, y, seed):
    """A smooth-ish deterministic texture value in 0..255."""
    v = (x * 37 + y * 91 + seed * 53) % 256
    w = ((x // 4) * 13 + (y // 4) * 29 + seed * 7) % 64
    return (v // 2 + w * 2) % 256


def write_video(directory, frames, width, height, seed, dx=1, dy=0):
    """A frame folder: a texture moving by (dx, dy) pixels per frame."""
    os.makedirs(directory, exist_ok=True)
    for t in range(frames):
        def pixel(x, y, t=t):
            v = texture(x - dx * t, y - dy * t, seed)
            return (v, (v * 3 + seed * 40) % 256, 255 - v)
        write_png(os.path.join(directory, "img_%d.png" % (t + 1)), width, height, pixel)


def write_npy(path, shape):
    """A float32 little-endian C-order .npy of the given shape, values in [-1, 1]."""
    count = 1
    for n in shape:
        count *= n
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % (
        "".join("%d, " % n for n in shape))
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    values = [((i * 7919) % 1000) / 500.0 - 1.0 for i in range(count)]
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%df" % count, *values))


def write_text(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def make_inputs(work, fixtures):
    """The README's placeholder inputs, under their README names, relative to `work`."""
    made = []
    # HMDB-51 (README "Training"): /data/hmdb51/frames, split files of `NAME.avi CLASS` lines.
    hmdb = os.path.join(work, "data/hmdb51/frames")
    train, test = [], []
    for i, (name, cls) in enumerate([("walk_a", "walk"), ("walk_b", "walk"),
                                     ("jump_a", "jump"), ("jump_b", "jump")]):
        write_video(os.path.join(hmdb, name), 6, 44, 36, seed=i, dx=1 if cls == "walk" else 0,
                    dy=0 if cls == "walk" else 1)
        (train if name.endswith("_a") else test).append("%s.avi %s\n" % (name, cls))
    write_text(os.path.join(work, "split1_train.txt"), "".join(train + test))
    write_text(os.path.join(work, "split1_test.txt"), "".join(test))
    made += ["/data/hmdb51/frames (4 videos x 6 frames of 44x36)", "split1_train.txt",
             "split1_test.txt"]
    # HMDB-51 as published (README "Data"): testTrainMulti_7030_splits/<class>_test_split1.txt of
    # `NAME.avi MARK ` lines (1 training, 2 testing, 0 unused), the videos in a folder per class
    # (frame folders standing in for the .avi files).
    splits = os.path.join(work, "data/hmdb51/testTrainMulti_7030_splits")
    for cls, dx, dy in (("walk", 1, 0), ("jump", 0, 1)):
        lines = []
        for i, mark in enumerate((1, 1, 2, 0)):
            name = "%s_%d" % (cls, i)
            if mark:
                write_video(os.path.join(work, "data/hmdb51/videos", cls, name), 6, 44, 36,
                            seed=30 + i, dx=dx, dy=dy)
            lines.append("%s.avi %d \n" % (name, mark))
        write_text(os.path.join(splits, "%s_test_split1.txt" % cls), "".join(lines))
    made += ["/data/hmdb51/videos/<class>/ (6 videos x 6 frames of 44x36)",
             "/data/hmdb51/testTrainMulti_7030_splits (split 1 of 2 classes)"]
    # Kinetics (the paper's lists): {"rgb_ID.mp4": CLASS_INDEX}, class map {"\"NAME\"": INDEX}.
    kin = os.path.join(work, "data/kinetics/frames")
    lists = {"train": {}, "val": {}}
    for i in range(4):
        key = "rgb_vid%d_000001_000012" % i
        write_video(os.path.join(kin, key), 12, 40, 36, seed=10 + i, dx=i % 2, dy=1 - i % 2)
        lists["train" if i < 2 else "val"][key + ".mp4"] = i % 2
    write_text(os.path.join(work, "kinetics_train.json"), json.dumps(lists["train"]))
    write_text(os.path.join(work, "kinetics_val.json"), json.dumps(lists["val"]))
    write_text(os.path.join(work, "kinetics_cls.json"),
               json.dumps({'"walking"': 0, '"jumping"': 1}))
    made += ["/data/kinetics/frames (4 videos x 12 frames of 40x36)", "kinetics_train.json",
             "kinetics_val.json", "kinetics_cls.json"]
    # Inference inputs: frame folders, a .npy clip, 400 class names.
    write_video(os.path.join(work, "clips/walk_01"), 12, 48, 40, seed=20)
    write_video(os.path.join(work, "DIR"), 12, 48, 40, seed=21, dy=1)
    write_npy(os.path.join(work, "clips.npy"), (1, 3, 4, 32, 32))
    write_text(os.path.join(work, "labels.txt"), "".join("class %d\n" % i for i in range(400)))
    made += ["clips/walk_01, DIR (12 frames of 48x40)", "clips.npy (1,3,4,32,32)",
             "labels.txt (400 names)"]
    # Two images for //tools:flow: a texture moved one pixel right.
    for name, shift in (("A.png", 0), ("B.png", 1)):
        write_png(os.path.join(work, name), 32, 32,
                  lambda x, y, s=shift: (texture(x - s, y, 3),) * 3)
    made += ["A.png, B.png (32x32)"]
    # ../shared/fixtures/*.json: the parity fixtures this test got from @shared_fixtures.
    if fixtures:
        out = os.path.join(work, "../shared/fixtures")
        os.makedirs(out, exist_ok=True)
        for f in fixtures:
            os.symlink(os.path.abspath(f), os.path.join(out, os.path.basename(f)))
        made += ["../shared/fixtures/*.json (%d fixtures)" % len(fixtures)]
    return made


def make_video_inputs(work, make_video):
    """The README's video files, encoded by //tests:make_video: HMDB's .avi files in one folder
    (the split files' names), the paper's Kinetics .mp4 files, and a video to classify."""
    def video(path, *args):
        full = os.path.join(work, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        subprocess.run([make_video, full] + [str(a) for a in args], check=True)
    for i, (name, cls) in enumerate([("walk_a", "walk"), ("walk_b", "walk"), ("jump_a", "jump"),
                                     ("jump_b", "jump")]):
        video("data/hmdb51/avi/%s.avi" % name, "--codec", "mpeg4", "--frames", 6, "--width", 44,
              "--height", 36, "--seed", i, "--dx", 1 if cls == "walk" else 0,
              "--dy", 0 if cls == "walk" else 1)
    for i in range(4):
        video("data/kinetics/mp4/rgb_vid%d_000001_000012.mp4" % i, "--frames", 12, "--width", 40,
              "--height", 36, "--seed", 10 + i, "--dx", i % 2, "--dy", 1 - i % 2)
    video("clips/walk_01.mp4", "--frames", 12, "--width", 48, "--height", 40, "--seed", 20)
    return ["/data/hmdb51/avi (4 MPEG-4 .avi of 6 frames of 44x36)",
            "/data/kinetics/mp4 (4 H.264 .mp4 of 12 frames of 40x36)",
            "clips/walk_01.mp4 (12 frames of 48x40)"]


TORCH_CHECKPOINT = r"""
import torch
g = torch.Generator().manual_seed(0)
r = lambda *s: torch.randn(*s, generator=g)
sd = {"conv1.weight": r(4, 3, 7, 7), "bn1.weight": r(4), "bn1.bias": r(4),
      "bn1.running_mean": r(4), "bn1.running_var": r(4).abs(),
      "bn1.num_batches_tracked": torch.tensor(3),
      "layer1.0.conv1.weight": r(4, 4, 3, 3), "layer1.0.conv2.weight": r(4, 4, 3, 3),
      "fc.weight": r(5, 4), "fc.bias": r(5)}
torch.save({"state_dict": {"module." + k: v for k, v in sd.items()}}, "resnet50.pth")
"""


def have_module(name):
    return subprocess.run([PYTHON, "-c", "import " + name], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


# ------------------------------------------------------------------------------------------
# README.md's commands.


class Command:
    def __init__(self, line, text):
        self.line = line  # README line of the command's first line
        self.text = text  # backslash continuations joined, comment removed


def strip_comment(text):
    """Drops a shell comment: `#` starting a word outside quotes."""
    quote = None
    for i, c in enumerate(text):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i].rstrip()
    return text.rstrip()


def readme_commands(readme_lines):
    commands, in_sh, pending, start = [], False, "", 0
    for number, line in enumerate(readme_lines, 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_sh = stripped in ("```sh", "```bash", "```shell") if not in_sh else False
            continue
        if not in_sh:
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = strip_comment(pending + stripped)
        pending = ""
        if text:
            commands.append(Command(start, text))
    return commands


def raw_tokens(text):
    """Words with their quotes kept (so a quoted glob is not expanded)."""
    lexer = shlex.shlex(text, posix=False, punctuation_chars=False)
    lexer.whitespace_split = True
    lexer.commenters = ""
    return list(lexer)


def unquote(token):
    return shlex.split(token)[0] if token else token


def expand(tokens, variant, cwd):
    """Optional `[...]` groups are given; `a|b` alternatives take the variant's one; `...`
    (more of the same) is dropped; unquoted globs are expanded in cwd, as a shell would; the
    README's absolute dataset paths (/data/...) are the tiny datasets under cwd."""
    out = []
    for token in tokens:
        quoted = "'" in token or '"' in token
        if token.startswith("/data/"):
            token = cwd + token
        if not quoted:
            token = token.lstrip("[").rstrip("]")
            if token in ("", "..."):
                continue
            if "|" in token:
                head, _, alts = token.rpartition("=") if "=" in token else ("", "", token)
                choices = alts.split("|")
                token = (head + "=" if head else "") + choices[min(variant, len(choices) - 1)]
            if any(c in token for c in "*?"):
                matches = sorted(glob.glob(os.path.join(cwd, token)))
                if matches:
                    out += [os.path.relpath(m, cwd) for m in matches]
                    continue
        out.append(unquote(token))
    return out


def variants(tokens):
    n = 1
    for t in tokens:
        if "|" in t and "'" not in t and '"' not in t:
            n = max(n, len(t.lstrip("[").rstrip("]").split("=")[-1].split("|")))
    return n


def flag_value(args, name):
    value = None
    for i, a in enumerate(args):
        if a == "--" + name and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith("--" + name + "="):
            value = a.split("=", 1)[1]
    return value


class Plan:
    """One README command as the test runs it (or why it does not)."""

    def __init__(self, cmd):
        self.cmd = cmd
        self.skip = None      # reason, when not run
        self.unknown = None   # reason, when the harness does not know the form (a failure)
        self.notes = []       # what was changed, printed with the command
        self.binary = None    # label without //, e.g. training:train
        self.mpirun = None    # mpirun's own arguments (tokens), for mpirun lines
        self.args = []        # the binary's arguments (raw tokens)
        self.pre_shell = None  # a plain shell line (printf > hosts), run as written
        self.parse_only = False
        self.phase = 1
        self.variant = 0      # which `a|b` alternative of a synopsis this run takes


BINARY_PATH = re.compile(r"^bazel-bin/(.+)/([^/]+)$")


def plan(cmd):
    p = Plan(cmd)
    text = cmd.text
    parts = [s.strip() for s in text.split("&&")]
    if len(parts) > 1:
        if parts[0] == "tools/setup.sh":
            p.notes.append("tools/setup.sh not run (it installs Debian packages; the test's "
                           "build already has them)")
            parts = parts[1:]
        if len(parts) > 1:
            p.unknown = "a chain of commands the harness does not know"
            return p
    tokens = raw_tokens(parts[0])
    word = tokens[0]
    if word == "bazel":
        sub = tokens[1] if len(tokens) > 1 else ""
        configs = [t for t in tokens if t.startswith("--config")]
        if sub == "test":
            if "--config=gpu" in configs:
                p.skip = "needs a GPU machine (the `gpu`-tagged tests); bazel cannot run inside a test"
            elif configs:
                p.skip = "a separate build (%s); bazel cannot run inside a test" % configs[0]
            elif tokens[2:] == ["//..."]:
                p.skip = "the whole suite, which includes this test (would recurse)"
            else:
                p.skip = "bazel cannot run inside a test; `bazel test //...` runs %s itself" % (
                    " ".join(tokens[2:]))
            return p
        if sub == "run" and configs == ["--config=fuzz"] and len(tokens) > 3:
            p.skip = ("a libFuzzer build (clang); the suite's //fuzz:*_test targets replay "
                      "each harness's seeds and regression inputs")
            return p
        if sub == "run" and len(tokens) > 2 and tokens[2].startswith("//"):
            p.binary = tokens[2][2:]
            rest = tokens[3:]
            if rest and rest[0] == "--":
                rest = rest[1:]
            elif rest:
                p.unknown = "bazel run arguments without `--`"
                return p
            p.args = rest
            return p
        p.unknown = "a bazel command the harness does not know"
        return p
    m = BINARY_PATH.match(word)
    if m:
        p.binary = "%s:%s" % m.groups()
        p.args = tokens[1:]
        return p
    if word == "mpirun":
        i = 1
        while i < len(tokens) and not BINARY_PATH.match(tokens[i]):
            i += 1
        if i == len(tokens):
            p.unknown = "mpirun without a bazel-bin/ binary"
            return p
        p.mpirun = tokens[1:i]
        p.binary = "%s:%s" % BINARY_PATH.match(tokens[i]).groups()
        p.args = tokens[i + 1:]
        return p
    if word in (PYTHON, "python3") and len(tokens) > 1 and tokens[1] == "tools/convert_torch.py":
        p.binary = "tools:convert_torch.py"
        p.args = tokens[2:]
        return p
    if word == "printf" and len(tokens) >= 3 and tokens[-2] == ">":
        p.pre_shell = parts[0]
        return p
    p.unknown = "not a form the harness knows (bazel run, bazel-bin/, mpirun, convert_torch.py)"
    return p


# ------------------------------------------------------------------------------------------
# Running.


class Runner:
    def __init__(self, work, bins, tmp):
        self.work = work
        self.bins = bins
        self.tmp = tmp
        self.default_run = None  # the run directory of the README's default training run
        self.failures = []
        self.env = dict(os.environ)
        # A binary started by this test is not under `bazel run`: relative paths are the work
        # directory's, as for a user in the repository root.
        self.env.pop("BUILD_WORKING_DIRECTORY", None)
        self.env.pop("BUILD_WORKSPACE_DIRECTORY", None)

    def run(self, title, argv, env_extra=None, timeout=COMMAND_TIMEOUT, expect=None):
        env = dict(self.env)
        env.update(env_extra or {})
        print("  $ " + self.display(argv), flush=True)
        start = time.time()
        try:
            r = subprocess.run(argv, cwd=self.work, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=timeout)
            code, output = r.returncode, r.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired as e:
            code, output = "timeout after %d s" % timeout, (e.stdout or b"").decode(
                errors="replace")
        seconds = time.time() - start
        ok = code == 0 and (expect is None or re.search(expect, output, re.M))
        print("    exit %s, %.1f s%s" % (code, seconds, "" if ok else "  <-- FAILED"), flush=True)
        if not ok:
            if code == 0:
                print("    output lacks /%s/" % expect)
            tail = output.strip().splitlines()[-25:]
            print("    output (last %d lines):" % len(tail))
            for line in tail:
                print("      | " + line)
            self.failures.append(title)
        return ok, output

    def display(self, argv):
        """The command line with the runfiles' binaries as bazel-bin/ paths and the scratch
        directories as $WORK and $TMP, to keep it readable."""
        names = {os.path.abspath(path): "bazel-bin/" + label.replace(":", "/")
                 for label, path in self.bins.items()}
        names[os.path.abspath(self.bins.get("tools:convert_torch.py", "-"))] = (
            "tools/convert_torch.py")
        out = []
        for a in argv:
            a = names.get(a, a).replace(self.work, "$WORK").replace(self.tmp, "$TMP")
            out.append(a if re.fullmatch(r"[\w@%+=:,./$-]+", a) else shlex.quote(a))
        return " ".join(out)

    def binary(self, label):
        if label not in self.bins:
            return None
        path = os.path.abspath(self.bins[label])
        return [PYTHON, path] if label.endswith(".py") else [path]


def small_train_flags(args):
    """Flags that make a README training command one small epoch on the CPU."""
    flags = ["--epochs", "1", "--batch-size", "2", "--workers", "1", "--threads", "1",
             "--quiet", "--device", "cpu"]
    data = flag_value(args, "data") or "synthetic"
    if data == "synthetic":
        flags += ["--synthetic-train", "16", "--synthetic-val", "8"]
    else:
        r50 = flag_value(args, "model") == "kinetics_repflow_r50"
        flags += ["--frames", "11" if r50 else "4", "--resize", "36", "--size", "32"]
        if r50:
            # On 32-pixel clips at batch 2 its gradients are so large that one step at the
            # recipe's rate makes the weights non-finite, which the trainer refuses.
            flags += ["--clip-grad", "1"]
    return flags


def link_run_dirs(args, runner):
    """A README run directory (runs/RUN, runs/<model>-<date>-<time>) is the README's default
    training run, made earlier."""
    for a in args:
        if a.startswith("runs/") and runner.default_run:
            link = os.path.join(runner.work, "runs", a.split("/")[1])
            if not os.path.lexists(link):
                os.symlink(runner.default_run, link)
                print("  (%s -> the default run's directory)" % os.path.relpath(link, runner.work))


def finish_plan(p, runner):
    """The argv (and environment) a planned command runs with; None when it cannot run."""
    args = expand(p.args, p.variant, runner.work)
    exe = runner.binary(p.binary)
    if exe is None:
        p.unknown = "//%s is not a binary this test has (add it to tests/BUILD)" % p.binary
        return None
    env = {}
    extra = []
    if p.binary == "training:train":
        if flag_value(args, "resume"):
            link_run_dirs(args, runner)
            extra = ["--epochs", "2", "--threads", "1", "--quiet", "--device", "cpu"]
            p.notes.append("resumes the README's default run (made above) for one more epoch")
        else:
            extra = small_train_flags(args)
            if not flag_value(args, "run-dir"):
                extra += ["--run-dir", "runs/readme-line%d-%d" % (p.cmd.line, p.variant)]
    elif p.binary == "training:experiments":
        # Its own flags, then the trainer's after `--`: one epoch of a few clips per cell.
        cut = args.index("--") if "--" in args else len(args)
        args = (args[:cut] + ["--epochs", "1", "--"] + args[cut + 1:] +
                ["--synthetic-train", "8", "--synthetic-val", "4", "--batch-size", "4",
                 "--workers", "1", "--threads", "1", "--device", "cpu"])
        p.notes.append("every cell one epoch of 8 training and 4 validation clips")
    elif p.binary == "tools:infer":
        link_run_dirs(args, runner)
        extra = ["--device", "cpu", "--threads", "1"]
    elif p.binary == "tools:show_flow":
        link_run_dirs(args, runner)
        extra = ["--threads", "1"]
    elif p.binary == "tools:bench_ops":
        extra = ["--batch", "2", "--size", "32", "--repeats", "1", "--threads", "1",
                 "--torch=false"]
        p.notes.append("smallest options, PyTorch side off")
    elif p.binary == "tools:bench_model":
        extra = ["--batch", "2", "--frames", "4", "--size", "32", "--steps", "1", "--warmup", "0",
                 "--threads", "1", "--torch=false"]
        p.notes.append("2 clips of 4 frames of 32 x 32, one timed step, PyTorch side off")
    elif p.binary == "tools:bench_recipe":
        # Its own flags before `--`, the trainer's (both sides') after it.
        cut = args.index("--") if "--" in args else len(args)
        args = (args[:cut] + ["--epochs", "1", "--threads", "1", "--torch=false", "--train",
                              runner.binary("training:train")[0], "--"] + args[cut + 1:] +
                ["--synthetic-train", "16", "--synthetic-val", "8", "--batch-size", "4",
                 "--workers", "1"])
        p.notes.append("one epoch of 16 training and 8 validation clips, PyTorch side off")
    elif p.binary == "tools:bench_flow":
        extra = ["--repeats", "1", "--warmup-ms", "0", "--threads", "1", "--torch=false",
                 "--device", "cpu"]
        p.notes.append("one timed run per configuration, PyTorch side off")
    elif p.binary == "tools:bench_tvl1":
        # The photograph of the README's run (python3-skimage's) need not be here.
        photo = os.path.join(runner.work, "tvl1_photo.png")
        write_png(photo, 64, 64, lambda x, y: (texture(x, y, 7),) * 3)
        extra = ["--image", photo, "--repeats", "1", "--threads", "1"]
        p.notes.append("a 64 x 64 texture in place of the photograph, one timed run")
    if p.mpirun is not None:
        if flag_value(p.mpirun, "hostfile"):
            p.parse_only = True
            p.notes.append("several machines: the trainer's flags parsed only (--help), "
                           "mpirun not started")
            return exe + args + ["--help"], env
        mpi_args = []
        i = 0
        while i < len(p.mpirun):
            if p.mpirun[i] == "-np" and i + 1 < len(p.mpirun):
                i += 2
                continue
            if p.mpirun[i] != "--oversubscribe":
                mpi_args.append(p.mpirun[i])
            i += 1
        tmp = runner.tmp
        # Under AddressSanitizer the workers do not look for leaks: Open MPI leaks at exit, from
        # components it has unloaded by then (tests/mpi_launch.h).
        env = {"TMPDIR": tmp, "OMPI_ALLOW_RUN_AS_ROOT": "1",
               "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
               "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"}
        extra += ["--dist-timeout", "120"]
        p.notes.append("mpirun -np 2 --oversubscribe on the CPU")
        return (["mpirun", "-np", "2", "--oversubscribe", "--mca", "orte_tmpdir_base", tmp,
                 "--mca", "btl_vader_backing_directory", tmp] + mpi_args + exe + args +
                extra), env
    return exe + args + extra, env


def phase_of(p):
    """Producers first: the default training run (its run directory is runs/RUN and the resumed
    run), then the other training runs (kinetics.json is the Kinetics run's weights), then the
    rest; --resume last, since it changes the default run's directory."""
    if p.binary != "training:train" or p.mpirun is not None:
        return 3
    args = [unquote(t) for t in p.args]
    if flag_value(args, "resume"):
        return 4
    return 1 if not args else 2


def after_run(p, runner, argv):
    if p.binary != "training:train" or p.mpirun is not None or p.parse_only:
        return
    args = [unquote(t) for t in p.args]
    if flag_value(args, "resume") or not flag_value(argv, "run-dir"):
        return
    run_dir = os.path.join(runner.work, flag_value(argv, "run-dir"))
    if not args and runner.default_run is None:
        runner.default_run = run_dir
    if flag_value(args, "model") == "kinetics_repflow_r50":
        os.replace(os.path.join(run_dir, "weights.json"),
                   os.path.join(runner.work, "kinetics.json"))
        print("    kinetics.json <- this run's weights.json")
    if run_dir != runner.default_run:  # only the default run is resumed: save the disk
        os.remove(os.path.join(run_dir, "checkpoint.json"))


def make_r18(runner):
    """r18.json for `infer --model resnet18_2d --weights r18.json ... --classes 400 --flow
    after3 --flow-iters 10`: a tiny training run of that model and those options (width 8)."""
    exe = runner.binary("training:train")
    argv = exe + ["--model", "resnet18_2d", "--width", "8", "--flow", "after3", "--flow-iters",
                  "10", "--synthetic-classes", "400", "--synthetic-train", "4",
                  "--synthetic-val", "2", "--frames", "4", "--batch-size", "2", "--epochs", "1",
                  "--threads", "1", "--quiet", "--device", "cpu", "--workers", "1",
                  "--run-dir", "runs/r18-fixture"]
    print("\nfixture r18.json: resnet18_2d, width 8, 400 classes, flow after3, 10 iterations")
    ok, _ = runner.run("fixture r18.json", argv)
    if ok:
        shutil.copyfile(os.path.join(runner.work, "runs/r18-fixture/weights.json"),
                        os.path.join(runner.work, "r18.json"))


# ------------------------------------------------------------------------------------------
# Flags.


def help_flags(runner):
    """flag -> binaries whose --help lists it."""
    known = {}
    for label, extra_runs in HELP_RUNS.items():
        exe = runner.binary(label)
        if exe is None:
            print("  no %s in the runfiles" % label)
            runner.failures.append("--help of //%s" % label)
            continue
        for extra in extra_runs:
            r = subprocess.run(exe + extra + ["--help"], cwd=runner.work, env=runner.env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            out = r.stdout.decode(errors="replace")
            if r.returncode != 0:
                print("  //%s %s --help: exit %d\n%s" % (label, " ".join(extra), r.returncode,
                                                        out[-2000:]))
                runner.failures.append("--help of //%s" % label)
                continue
            if label.endswith(".py"):  # argparse: "  --name ARG", "  -h, --help"
                names = re.findall(r"^\s{2}(?:-\w, )?--([\w-]+)", out, re.M)
            else:  # framework/flags.h: "  --name (default: ...)"
                names = re.findall(r"^  --([\w-]+) \(default:", out, re.M)
            for n in names:
                known.setdefault(n, set()).add(label)
    return known


def check_flags(readme_lines, runner):
    print("\n== every --flag README.md names is a flag of a binary (their --help)")
    known = help_flags(runner)
    bad = []
    seen = set()
    for number, line in enumerate(readme_lines, 1):
        for name in re.findall(r"(?<![\w-])--([A-Za-z][\w-]*)", line):
            if name in known or name in FOREIGN_FLAGS:
                seen.add(name)
                continue
            bad.append((name, number, line.strip()))
    print("  %d distinct flags named, all found: %s" % (len(seen), " ".join(sorted(seen)))
          if not bad else "  %d distinct flags found" % len(seen))
    for name, number, line in bad:
        print("  --%s (README.md:%d) is a flag of none of %s: %s" % (
            name, number, ", ".join(sorted(HELP_RUNS)), line))
        runner.failures.append("README.md:%d: unknown flag --%s" % (number, name))


# ------------------------------------------------------------------------------------------


def main(argv):
    readme = argv[1]
    bins = {}
    fixtures_index = None
    for a in argv[2:]:
        name, _, path = a.partition("=")
        if name == "fixtures":
            fixtures_index = path
        else:
            bins[name] = path
    fixtures = []
    if fixtures_index:
        d = os.path.dirname(fixtures_index)
        with open(fixtures_index) as f:
            fixtures = [os.path.join(d, n.strip()) for n in f if n.strip()]

    base = os.environ.get("TEST_TMPDIR") or os.path.abspath("readme_test_tmp")
    root = os.path.join(base, "readme")
    shutil.rmtree(root, ignore_errors=True)
    work = os.path.join(root, "main")
    tmp = os.path.join(root, "tmp")
    os.makedirs(work)
    os.makedirs(tmp)
    with open(readme) as f:
        readme_lines = f.read().split("\n")
    runner = Runner(work, bins, tmp)
    started = time.time()

    print("== tiny inputs in %s:" % work)
    for what in make_inputs(work, fixtures):
        print("  " + what)
    if "tests:make_video" in bins:
        for what in make_video_inputs(work, os.path.abspath(bins["tests:make_video"])):
            print("  " + what)
    torch = have_module("torch")
    opencv = have_module("cv2")
    if torch:
        subprocess.run([PYTHON, "-c", TORCH_CHECKPOINT], cwd=work, check=True)
        print("  resnet50.pth (a small state dict, written with %s's torch)" % PYTHON)

    plans = []
    for cmd in readme_commands(readme_lines):
        p = plan(cmd)
        n = variants(p.args) if p.skip is None and p.unknown is None else 1
        for v in range(n):
            q = p if v == 0 else plan(cmd)
            q.variant = v
            if q.binary == "tools:convert_torch.py" and not torch:
                q.skip = "%s has no torch (Debian's python3-torch) to write the checkpoint" % PYTHON
            if q.mpirun is not None and not shutil.which("mpirun") and not flag_value(
                    [unquote(t) for t in q.mpirun], "hostfile"):
                q.skip = "mpirun not found: install openmpi-bin (tools/setup.sh) to run it"
            if q.binary == "tools:bench_tvl1" and not opencv:
                q.skip = "%s has no OpenCV (Debian's python3-opencv) to compare with" % PYTHON
            if q.binary == "tools:check_fixture" and not fixtures:
                q.skip = "no parity fixtures (../shared/fixtures or $REPFLOW_FIXTURES) here"
            q.phase = phase_of(q) if q.binary else (0 if q.pre_shell else 3)
            plans.append(q)
    print("\n== %d README commands (%d runs)" % (len({id(p.cmd) for p in plans}), len(plans)))

    make_r18_done = False
    for p in sorted(plans, key=lambda p: (p.phase, p.cmd.line, p.variant)):
        label = "README.md:%d%s" % (p.cmd.line, " (variant %d)" % (p.variant + 1)
                                     if variants(p.args) > 1 else "")
        if p.phase >= 3 and not make_r18_done and not p.skip and not p.unknown:
            make_r18_done = True
            make_r18(runner)
        print("\n%s: %s" % (label, p.cmd.text))
        if p.unknown:
            print("  NOT HANDLED: %s. Teach tests/readme_test.py this command." % p.unknown)
            runner.failures.append(label + " (not handled)")
            continue
        if p.skip:
            print("  skipped: " + p.skip)
            continue
        if p.pre_shell:
            runner.run(label, ["/bin/sh", "-c", p.pre_shell])
            continue
        argv_env = finish_plan(p, runner)
        if argv_env is None:
            print("  NOT HANDLED: " + p.unknown)
            runner.failures.append(label + " (not handled)")
            continue
        for note in p.notes:
            print("  (" + note + ")")
        argv, env = argv_env
        expect = r"^usage: train" if p.parse_only else EXPECT.get(p.binary)
        ok, _ = runner.run(label, argv, env, expect=expect)
        if ok:
            after_run(p, runner, argv)

    check_flags(readme_lines, runner)

    print("\n== %.0f s" % (time.time() - started))
    skipped = [p for p in plans if p.skip]
    if skipped:
        print("skipped (%d):" % len(skipped))
        for p in skipped:
            print("  README.md:%d %s: %s" % (p.cmd.line, p.cmd.text, p.skip))
    if runner.failures:
        print("FAILED (%d):" % len(runner.failures))
        for f in runner.failures:
            print("  " + f)
        return 1
    print("all README commands that can run here ran and exited 0; every flag exists")
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
