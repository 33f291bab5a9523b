#include "training/data/frame_dataset.h"

#include <algorithm>
#include <filesystem>

#include "framework/error.h"
#include "framework/philox.h"
#include "training/data/video_file.h"

namespace repflow {
std::vector<int64_t> clip_frame_indices(int64_t count, int64_t frames, int64_t stride,
                                        const ClipRequest& request) {
  RF_CHECK(count >= 1, "clip_frame_indices: a video without frames");
  const int64_t room = std::max<int64_t>(0, count - ((frames - 1) * stride + 1));
  int64_t offset = 0;
  if (request.train) {
    offset = below_of_word(philox4x32(request.seed, 0, 0).v[0], room + 1);
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
    : list_(std::move(list)),
      options_(std::move(options)),
      sources_(std::make_unique<VideoSources>(options_.root, size())) {
  RF_CHECK(options_.frames >= 1, "frame dataset: ", options_.frames,
           " frames per clip is not a positive count");
  RF_CHECK(options_.stride >= 1, "frame dataset: frame stride ", options_.stride,
           " is not a positive count");
  RF_CHECK(options_.resize >= 0 && options_.crop >= 0, "frame dataset: resize ", options_.resize,
           " and crop ", options_.crop, " must not be negative");
  RF_CHECK(options_.decode_size >= 0, "frame dataset: decode size ", options_.decode_size,
           " is negative");
  RF_CHECK(options_.decoder_threads >= 1, "frame dataset: ", options_.decoder_threads,
           " decoder threads is not a positive count");
}

int64_t FrameDataset::size() const { return static_cast<int64_t>(list_.videos.size()); }

int64_t FrameDataset::num_classes() const { return static_cast<int64_t>(list_.classes.size()); }

std::string FrameDataset::video_name(int64_t index) const {
  RF_CHECK(index >= 0 && index < size(), "frame dataset: video ", index, " of ", size());
  return sources_->find(index, list_.videos[index]).path;
}

Clip FrameDataset::clip(int64_t index, const ClipRequest& request) const {
  RF_CHECK(index >= 0 && index < size(), "frame dataset: video ", index, " of ", size());
  const VideoEntry& entry = list_.videos[index];
  const VideoSource source = sources_->find(index, entry);
  RF_CHECK(source.kind != VideoSource::Kind::kMissing, source.path,
           ": not a directory of frames nor a video file (missing or unreadable; looked for '",
           entry.name, "' under ", options_.root.empty() ? "." : options_.root,
           " as a file, as rgb_NAME.mp4, as NAME with a video extension and as a folder)");
  const std::string& path = source.path;
  FrameTransform transform;
  transform.resize = options_.resize;
  transform.crop = options_.crop;
  transform.norm = options_.norm;
  if (request.train) {
    const Philox4 r = philox4x32(request.seed, 0, 0);
    transform.position = {uniform_of_word(r.v[1]), uniform_of_word(r.v[2])};
    transform.flip = options_.flip && (r.v[3] >> 31) != 0;
  }
  // The first `num_frames` frames when the list gives a count.
  const auto listed = [&](int64_t available, const char* holder) {
    if (entry.num_frames < 0) return available;
    RF_CHECK(entry.num_frames >= 1, path, ": the list gives the video no frames");
    RF_CHECK(available >= entry.num_frames, path, ": the list says ", entry.num_frames,
             " frames, the ", holder, " holds ", available);
    return entry.num_frames;
  };
  Clip clip;
  clip.label = entry.label;
  if (source.kind == VideoSource::Kind::kFile) {
    VideoFile video(path, {options_.decoder_threads, options_.decode_size});
    const std::vector<int64_t> indices = clip_frame_indices(
        listed(video.info().frames, "video"), options_.frames, options_.stride, request);
    // Decoded frames land in memory this thread keeps from clip to clip: allocating a clip's
    // worth of fresh frames each time costs more than converting them.
    thread_local std::vector<Image> frames;
    video.read(indices, &frames);
    clip.frames = transform_frames(
        static_cast<int64_t>(frames.size()), [&](int64_t t) -> const Image& { return frames[t]; },
        [&](int64_t t) { return path + " (frame " + std::to_string(indices[t]) + ")"; }, transform);
    // Kept only while a clip's frames are of a usual size (up to 32 frames of 1920 x 1080).
    size_t bytes = 0;
    for (const Image& f : frames) bytes += f.pixels.size();
    if (bytes > size_t{32} * 1920 * 1080 * 3) frames = {};
    return clip;
  }
  std::vector<std::string> paths;
  try {
    paths = list_frames(path);
  } catch (const Error& e) {
    const std::string ext = std::filesystem::path(path).extension().string();
    const auto& video = video_extensions();
    if (std::find(video.begin(), video.end(), ext) == video.end()) throw;
    RF_FAIL(e.what(), " (a directory named like a video file)");
  }
  paths.resize(listed(static_cast<int64_t>(paths.size()), "directory"));
  const std::vector<int64_t> indices = clip_frame_indices(
      static_cast<int64_t>(paths.size()), options_.frames, options_.stride, request);
  std::vector<std::string> chosen;
  for (int64_t i : indices) chosen.push_back(paths[i]);
  clip.frames = read_frames(chosen, transform);
  return clip;
}

}  // namespace repflow
