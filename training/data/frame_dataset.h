#pragma once
// Videos stored as directories of frames (training/data/video_frames.h), named by a video list
// (training/data/video_list.h).
//
// A clip is `frames` frames `stride` apart, starting at an offset: drawn uniformly from every
// offset that keeps the clip inside the video for training, the i-th of `clips` evenly spaced
// offsets for evaluation (the middle one when clips = 1). A video shorter than the clip loops
// back to its first frame. Frames are resized (shorter side `resize`) and cropped to
// `crop` x `crop`: at a random position and mirrored with probability 1/2 for training, in the
// centre for evaluation. Every random choice comes from ClipRequest::seed alone.
#include <cstdint>
#include <string>
#include <vector>

#include "training/data/dataset.h"
#include "training/data/video_frames.h"
#include "training/data/video_list.h"

namespace repflow {

struct FrameDatasetOptions {
  std::string root;  // the list's directories are relative to it
  int64_t frames = 16;
  int64_t stride = 1;
  int resize = 128;  // 0 keeps the frames' size
  int crop = 112;    // 0 keeps the whole (resized) frame
  Normalisation norm = imagenet_normalisation();
};

// The frame indices (0-based, into the video's frames in natural order) of the clip `request`
// asks for from a video of `count` frames.
std::vector<int64_t> clip_frame_indices(int64_t count, int64_t frames, int64_t stride,
                                        const ClipRequest& request);

class FrameDataset : public Dataset {
 public:
  // Errors name a bad option; the frames themselves are only read by clip().
  FrameDataset(VideoList list, FrameDatasetOptions options);

  int64_t size() const override;
  int64_t num_classes() const override;
  // ROOT/NAME when that is a directory, else ROOT/NAME without its extension (the frame folder of
  // "NAME.avi").
  std::string video_name(int64_t index) const override;
  // Errors name the file: a missing directory, a video without frames or with fewer than its
  // list entry says, a missing, unreadable or truncated frame.
  Clip clip(int64_t index, const ClipRequest& request) const override;

  const VideoList& list() const { return list_; }

 private:
  VideoList list_;
  FrameDatasetOptions options_;
};

}  // namespace repflow
