"""bench_loader's Python side: the same training clips from the same video files, read with
OpenCV's VideoCapture (Debian's python3-opencv) and torchvision.io.read_video (python3-torchvision,
PyAV underneath), with the same sampling, resize, crop, flip and normalisation, in worker
processes as a PyTorch DataLoader would run them.

Reads a JSON config on stdin (tools/bench_loader.cc writes it) and prints one `BENCH {...}` line
per reader and worker count; a reader that is not installed is named, with the package that
brings it, and left out.
"""

import json
import multiprocessing
import os
import random
import sys
import time

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def jobs(config):
    """The clips to cut: (file, first frame, crop x and y as fractions of the room, flip)."""
    rng = random.Random(config["seed"])
    span = (config["frames"] - 1) * config["stride"] + 1
    out = []
    for _ in range(config["clips"]):
        path = rng.choice(config["files"])
        start = rng.randrange(max(1, config["video_frames"] - span + 1))
        out.append((path, start, rng.random(), rng.random(), rng.random() < 0.5))
    return out


def resized(width, height, shorter):
    """Shorter side `shorter`, the longer keeping the aspect ratio (repflow's rounding)."""
    small = min(width, height)
    scale = lambda side: max(1, (2 * side * shorter + small) // (2 * small))
    return (shorter, scale(height)) if width <= height else (scale(width), shorter)


def crop_box(width, height, crop, fx, fy):
    x = min(width - crop, int(fx * (width - crop + 1)))
    y = min(height - crop, int(fy * (height - crop + 1)))
    return x, y


# ------------------------------------------------------------------------------------------
# OpenCV


def opencv_init(threads):
    import cv2
    cv2.setNumThreads(1)
    global CV_THREADS
    CV_THREADS = threads


def opencv_clip(job, config):
    import cv2
    import numpy as np
    start_cpu = time.process_time()
    path, start, fx, fy, flip = job
    params = []
    if hasattr(cv2, "CAP_PROP_N_THREADS"):
        params = [cv2.CAP_PROP_N_THREADS, CV_THREADS]
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG, params)
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = []
    span = (config["frames"] - 1) * config["stride"] + 1
    for i in range(span):
        if i % config["stride"] == 0:
            ok, frame = cap.read()
            if not ok:
                raise RuntimeError("%s: no frame %d" % (path, start + i))
            frames.append(frame)
        elif not cap.grab():
            raise RuntimeError("%s: no frame %d" % (path, start + i))
    cap.release()
    crop = config["crop"]
    out = np.empty((3, len(frames), crop, crop), np.float32)
    mean = np.array(MEAN, np.float32)
    std = np.array(STD, np.float32)
    for t, frame in enumerate(frames):
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        w, h = resized(rgb.shape[1], rgb.shape[0], config["resize"])
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
        x, y = crop_box(w, h, crop, fx, fy)
        rgb = rgb[y:y + crop, x:x + crop]
        if flip:
            rgb = rgb[:, ::-1]
        out[:, t] = ((rgb.astype(np.float32) / 255.0 - mean) / std).transpose(2, 0, 1)
    return time.process_time() - start_cpu


# ------------------------------------------------------------------------------------------
# torchvision


def torchvision_init(threads):
    import torch
    torch.set_num_threads(1)


def torchvision_clip(job, config):
    import torch
    import torch.nn.functional as F
    import torchvision.io
    start_cpu = time.process_time()
    path, start, fx, fy, flip = job
    fps = config["fps"]
    span = (config["frames"] - 1) * config["stride"] + 1
    video, _, _ = torchvision.io.read_video(path, start_pts=start / fps,
                                            end_pts=(start + span - 1) / fps, pts_unit="sec",
                                            output_format="TCHW")
    if video.shape[0] < span:
        raise RuntimeError("%s: %d frames from %d, wanted %d" % (path, video.shape[0], start,
                                                                 span))
    clip = video[:span:config["stride"]].float().div_(255.0)
    w, h = resized(clip.shape[3], clip.shape[2], config["resize"])
    clip = F.interpolate(clip, size=(h, w), mode="bilinear", align_corners=False)
    crop = config["crop"]
    x, y = crop_box(w, h, crop, fx, fy)
    clip = clip[:, :, y:y + crop, x:x + crop]
    if flip:
        clip = clip.flip(3)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    clip = ((clip - mean) / std).permute(1, 0, 2, 3).contiguous()
    return time.process_time() - start_cpu


# ------------------------------------------------------------------------------------------

READERS = {
    "opencv": ("cv2", "python3-opencv", opencv_init, opencv_clip),
    "torchvision": ("torchvision.io", "python3-torchvision", torchvision_init, torchvision_clip),
}


def available(name, module, package):
    try:
        __import__(module)
        if module == "torchvision.io":  # read_video needs PyAV
            import av  # noqa: F401
        return True
    except ImportError as e:
        print("%s is not installed (%s; Debian's %s provides it): left out of the comparison" % (
            name, e, package), flush=True)
        return False


def run_job(args):
    clip, job, config = args
    return clip(job, config)


def main():
    config = json.load(sys.stdin)
    todo = jobs(config)
    cores = os.cpu_count() or 1
    for name in config["readers"]:
        module, package, init, clip = READERS[name]
        if not available(name, module, package):
            continue
        for workers in config["workers"]:
            threads = max(1, cores // workers)  # the same rule as repflow's decoders
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(workers, initializer=init, initargs=(threads,)) as pool:
                pool.map(run_job, [(clip, j, config) for j in todo[:workers]])  # warm up
                start = time.time()
                cpu = sum(pool.map(run_job, [(clip, j, config) for j in todo], chunksize=1))
                wall = time.time() - start
            record = {"bench": "loader", "impl": name, "device": "cpu", "threads": workers,
                      "config": config["record"], "clips_per_s": len(todo) / wall,
                      "cpu_ms_per_clip": 1000.0 * cpu / len(todo)}
            print("BENCH " + json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
