#pragma once
// What the trainer reads: a dataset of videos, each giving clips on demand. Implementations:
// the built-in synthetic motion set (training/data/synthetic_motion.h) and frame-folder
// datasets (training/data/frame_dataset.h). The loader (training/data/loader.h) batches clips on
// worker threads.
#include <cstdint>
#include <string>
#include <vector>

#include "framework/tensor.h"

namespace repflow {

// How to cut one clip out of a video.
struct ClipRequest {
  // Training: random temporal offset, crop and flip, all drawn from `seed`. Evaluation: clip
  // `clip_index` of `clips` evenly spaced over the video, centre crop, no flip.
  bool train = true;
  uint64_t seed = 0;
  int clip_index = 0;
  int clips = 1;

  static ClipRequest training(uint64_t seed) {
    ClipRequest r;
    r.seed = seed;
    return r;
  }
  static ClipRequest evaluation(int clip_index, int clips) {
    ClipRequest r;
    r.train = false;
    r.clip_index = clip_index;
    r.clips = clips;
    return r;
  }
};

struct Clip {
  Tensor frames;  // (3, T, H, W) float32 on the CPU, normalised
  int64_t label = 0;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;  // videos
  virtual int64_t num_classes() const = 0;
  // What errors and reports call video `index` (its directory, or "synthetic #index").
  virtual std::string video_name(int64_t index) const = 0;
  // The same (index, request) gives the same clip on any thread and in any order, which makes
  // runs reproducible and resumable. A missing or unreadable frame, an empty video or an
  // unknown label throws an Error naming the file.
  virtual Clip clip(int64_t index, const ClipRequest& request) const = 0;
};

}  // namespace repflow
