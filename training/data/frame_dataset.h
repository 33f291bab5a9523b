#pragma once
// Videos stored as video files (training/data/video_file.h) or directories of frames
// (training/data/video_frames.h), named by a video list (training/data/video_list.h) and found
// under the root as training/data/video_source.h says.
//
// A clip is `frames` frames `stride` apart, starting at an offset: drawn uniformly from every
// offset that keeps the clip inside the video for training, the i-th of `clips` evenly spaced
// offsets for evaluation (the middle one when clips = 1). A video shorter than the clip loops
// back to its first frame. Frames are resized (shorter side `resize`) and cropped to
// `crop` x `crop`: at a random position and mirrored with probability 1/2 (unless `flip` is off)
// for training, in the centre for evaluation. Every random choice comes from ClipRequest::seed
// alone. A video file and the folder of its frames (decoded, stored losslessly) give the same
// clips: the sampling and the transform (transform_frames) are shared.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "training/data/dataset.h"
#include "training/data/video_frames.h"
#include "training/data/video_list.h"
#include "training/data/video_source.h"

namespace repflow {

// Bounds of a clip's geometry wherever it is given (flags, weight files): far above any real use,
// and small enough that a clip's size in floats stays well inside 64 bits.
constexpr int64_t kMaxClipFrames = 10000;    // frames per clip, and the stride between them
constexpr int64_t kMaxFrameSide = 7680;      // resize, crop and decode sizes: an 8K frame's width
constexpr int64_t kMaxClipsPerVideo = 1000;  // clips cut from one video for evaluation

struct FrameDatasetOptions {
  std::string root;  // the list's directories are relative to it
  int64_t frames = 16;
  int64_t stride = 1;
  int resize = 128;  // 0 keeps the frames' size
  int crop = 112;    // 0 keeps the whole (resized) frame
  Normalisation norm = imagenet_normalisation();
  bool flip = true;  // training clips mirrored with probability 1/2; off for left/right classes
  // Video files only: decode with the shorter side scaled to this (0: the stream's size), before
  // `resize` (VideoReadOptions::decode_size). Frame folders are read at the size stored.
  int decode_size = 0;
  int decoder_threads = 1;  // FFmpeg's threads per clip (decoder_threads_per_worker)
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
  // The video file or frame folder the entry names (find_video: its name, then its other
  // names), looked up once; ROOT/NAME without its extension when there is neither.
  std::string video_name(int64_t index) const override;
  // Errors name the file: no video file or frame folder, a video without frames or with fewer
  // than its list entry says, a missing, unreadable or truncated frame, a video file FFmpeg
  // cannot open or decode (training/data/video_file.h).
  Clip clip(int64_t index, const ClipRequest& request) const override;

  const VideoList& list() const { return list_; }

 private:
  VideoList list_;
  FrameDatasetOptions options_;
  std::unique_ptr<VideoSources> sources_;
};

}  // namespace repflow
