#include "training/data/frame_dataset.h"

#include <algorithm>
#include <filesystem>

#include "framework/error.h"
#include "framework/philox.h"

namespace repflow {
namespace {

// A uniform integer in [0, n) from one random word.
int64_t below(uint32_t word, int64_t n) {
  return static_cast<int64_t>((static_cast<uint64_t>(word) * static_cast<uint64_t>(n)) >> 32);
}

float fraction(uint32_t word) { return static_cast<float>(word >> 8) * (1.0f / 16777216.0f); }

// The name without its extension ("NAME.avi" -> "NAME"); a name without one stays as it is.
std::string strip_extension(const std::string& name) {
  const std::filesystem::path path(name);
  return path.has_extension() ? (path.parent_path() / path.stem()).string() : name;
}

}  // namespace

std::vector<int64_t> clip_frame_indices(int64_t count, int64_t frames, int64_t stride,
                                        const ClipRequest& request) {
  RF_CHECK(count >= 1, "clip_frame_indices: a video without frames");
  const int64_t room = std::max<int64_t>(0, count - ((frames - 1) * stride + 1));
  int64_t offset = 0;
  if (request.train) {
    offset = below(philox4x32(request.seed, 0, 0).v[0], room + 1);
  } else {
    RF_CHECK(request.clip_index >= 0 && request.clip_index < request.clips, "clip index ",
             request.clip_index, " is outside 0 ... ", request.clips - 1);
    offset = evenly_spaced_frames(room + 1, request.clips)[request.clip_index];
  }
  std::vector<int64_t> indices(frames);
  for (int64_t t = 0; t < frames; ++t) indices[t] = (offset + t * stride) % count;
  return indices;
}

FrameDataset::FrameDataset(VideoList list, FrameDatasetOptions options)
    : list_(std::move(list)), options_(std::move(options)) {
  RF_CHECK(options_.frames >= 1, "frame dataset: ", options_.frames,
           " frames per clip is not a positive count");
  RF_CHECK(options_.stride >= 1, "frame dataset: frame stride ", options_.stride,
           " is not a positive count");
  RF_CHECK(options_.resize >= 0 && options_.crop >= 0, "frame dataset: resize ", options_.resize,
           " and crop ", options_.crop, " must not be negative");
}

int64_t FrameDataset::size() const { return static_cast<int64_t>(list_.videos.size()); }

int64_t FrameDataset::num_classes() const { return static_cast<int64_t>(list_.classes.size()); }

std::string FrameDataset::video_name(int64_t index) const {
  RF_CHECK(index >= 0 && index < size(), "frame dataset: video ", index, " of ", size());
  const std::filesystem::path root(options_.root);
  const std::string& name = list_.videos[index].name;
  if (std::filesystem::is_directory(root / name)) return (root / name).string();
  return (root / strip_extension(name)).string();
}

Clip FrameDataset::clip(int64_t index, const ClipRequest& request) const {
  const std::string dir = video_name(index);
  const VideoEntry& entry = list_.videos[index];
  std::vector<std::string> paths = list_frames(dir);
  if (entry.num_frames >= 0) {
    RF_CHECK(entry.num_frames >= 1, dir, ": the list gives the video no frames");
    RF_CHECK(static_cast<int64_t>(paths.size()) >= entry.num_frames, dir, ": the list says ",
             entry.num_frames, " frames, the directory holds ", paths.size());
    paths.resize(entry.num_frames);
  }
  const std::vector<int64_t> indices = clip_frame_indices(
      static_cast<int64_t>(paths.size()), options_.frames, options_.stride, request);
  std::vector<std::string> chosen;
  for (int64_t i : indices) chosen.push_back(paths[i]);
  FrameTransform transform;
  transform.resize = options_.resize;
  transform.crop = options_.crop;
  transform.norm = options_.norm;
  if (request.train) {
    const Philox4 r = philox4x32(request.seed, 0, 0);
    transform.position = {fraction(r.v[1]), fraction(r.v[2])};
    transform.flip = (r.v[3] >> 31) != 0;
  }
  Clip clip;
  clip.frames = read_frames(chosen, transform);
  clip.label = entry.label;
  return clip;
}

}  // namespace repflow
