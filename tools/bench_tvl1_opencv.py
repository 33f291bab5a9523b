"""bench_tvl1's Python side: image pairs with a known flow, made from a real photograph, and
OpenCV's DualTVL1 (Debian's python3-opencv, contrib module optflow) on them.

Reads a JSON config on stdin (tools/bench_tvl1.cc writes it). Writes each pair (I0, I1 as float32
grey levels 0..255), its true flow (2, H, W) and the mask of pixels that count ((H, W), 1 where
the pixel and its match lie at least `margin` inside the frame) as .npy files into the config's
directory, prints one `BENCH {"bench": "tvl1_pairs", ...}` line naming them, then one line per
case and OpenCV setting with the median time and the mean endpoint error over the mask. A
missing module is named, with the package that brings it, and nothing is printed as BENCH.
"""

import json
import os
import sys
import time


def photograph(config):
    """The image: --image, or scikit-image's 'camera' (512 x 512 grey, python3-skimage)."""
    import cv2
    import importlib.util
    path = config["image"]
    if not path:
        spec = importlib.util.find_spec("skimage")
        if spec is None:
            print("no --image given and scikit-image is not installed (Debian's python3-skimage "
                  "provides its 'camera' photograph)", flush=True)
            return None
        path = os.path.join(os.path.dirname(spec.origin), "data", "camera.png")
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if image is None:
        print("cannot read the image %s" % path, flush=True)
        return None
    size = config["size"]
    if size:
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return path, image


def cases(config):
    """(name, 2 x 3 affine matrix about the image centre) for each known motion."""
    import cv2
    import numpy as np
    h, w = config["height"], config["width"]
    centre = ((w - 1) / 2.0, (h - 1) / 2.0)
    out = []
    for dx, dy in ((1, 0), (2.5, -1.5), (-4, 3), (0, -6), (8, 0)):
        out.append(("shift %g,%g px" % (dx, dy), np.array([[1, 0, dx], [0, 1, dy]], np.float64)))
    for degrees in (1, 3):
        out.append(("rotate %g deg" % degrees, cv2.getRotationMatrix2D(centre, degrees, 1.0)))
    for scale in (1.02, 1.05):
        out.append(("zoom %g" % scale, cv2.getRotationMatrix2D(centre, 0, scale)))
    return out


def make_pairs(config, image):
    """Writes the pairs' files; returns [(name, paths, I0, I1, flow, mask)]."""
    import cv2
    import numpy as np
    h, w = image.shape
    config["height"], config["width"] = h, w
    i0 = image.astype(np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    margin = config["margin"]
    out = []
    for k, (name, m) in enumerate(cases(config)):
        # warpAffine moves the content at x to M x: the flow from I0 to I1 at x is M x - x.
        i1 = cv2.warpAffine(i0, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        i1 = np.clip(i1, 0, 255)
        tx = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
        ty = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
        flow = np.stack([tx - xs, ty - ys]).astype(np.float32)
        inside = lambda x, y: (x >= margin) & (x <= w - 1 - margin) & (y >= margin) & (
            y <= h - 1 - margin)
        mask = (inside(xs, ys) & inside(tx, ty)).astype(np.float32)
        paths = {}
        for key, array in (("i0", i0), ("i1", i1.astype(np.float32)), ("flow", flow),
                           ("mask", mask)):
            paths[key] = os.path.join(config["dir"], "case%d_%s.npy" % (k, key))
            np.save(paths[key], np.ascontiguousarray(array))
        out.append((name, paths, i0, i1, flow, mask))
    return out


def median(values):
    return sorted(values)[len(values) // 2]


def epe(estimate, flow, mask):
    import numpy as np
    error = np.hypot(estimate[..., 0] - flow[0], estimate[..., 1] - flow[1])
    return float((error * mask).sum() / mask.sum())


def main():
    config = json.load(sys.stdin)
    try:
        import cv2
        import numpy  # noqa: F401
    except ImportError as e:
        print("OpenCV or NumPy is not installed (%s; Debian's python3-opencv provides both)" % e,
              flush=True)
        return
    if not hasattr(cv2, "optflow"):
        print("this OpenCV has no contrib module optflow (Debian's python3-opencv has it)",
              flush=True)
        return
    found = photograph(config)
    if found is None:
        return
    path, image = found
    cv2.setNumThreads(config["threads"])
    pairs = make_pairs(config, image)
    print("BENCH " + json.dumps({
        "bench": "tvl1_pairs", "image": path, "height": image.shape[0], "width": image.shape[1],
        "cases": [{"name": name, **paths} for name, paths, *_ in pairs]}), flush=True)
    s = config["settings"]
    settings = {
        # The settings repflow runs: a fixed number of iterations per warp, no median filter.
        "same": dict(tau=s["tau"], lambda_=s["lambda"], theta=s["theta"], nscales=s["scales"],
                     warps=s["warps"], epsilon=0.0, innnerIterations=s["iterations"],
                     outerIterations=1, scaleStep=s["scale_step"], gamma=0.0, medianFiltering=1),
    }
    if config["opencv_defaults"]:
        # OpenCV's own defaults (up to 300 iterations per warp, a 5 x 5 median filter).
        settings["opencv defaults"] = {}
    for setting, kwargs in settings.items():
        for name, _, i0, i1, flow, mask in pairs:
            # At its defaults (up to 300 iterations a warp) OpenCV is slow: one timed call, no
            # untimed one.
            runs = config["repeats"] + 1 if setting == "same" else 1
            times = []
            for _ in range(runs):
                tvl1 = cv2.optflow.DualTVL1OpticalFlow_create(**kwargs)
                start = time.perf_counter()
                # Float images are taken to be 0..1 (OpenCV scales them by 255 itself).
                estimate = tvl1.calc(i0 / 255.0, i1 / 255.0, None)
                times.append((time.perf_counter() - start) * 1e3)
            print("BENCH " + json.dumps({
                "bench": "tvl1", "impl": "opencv", "setting": setting, "case": name,
                "threads": cv2.getNumThreads(), "ms": median(times[1:] or times),
                "epe": epe(estimate, flow, mask)}), flush=True)


if __name__ == "__main__":
    main()
