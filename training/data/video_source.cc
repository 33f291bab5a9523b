#include "training/data/video_source.h"

#include <filesystem>
#include <system_error>

#include "framework/error.h"
#include "training/data/video_file.h"

namespace repflow {
namespace {

namespace fs = std::filesystem;

// Anything there but a folder: a FIFO or a device named like a video is then refused by the
// video reader as "not a regular file", not reported missing.
bool is_file(const fs::path& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  return !ec && fs::exists(status) && !fs::is_directory(status);
}

bool is_folder(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

// NAME without its extension ("NAME.avi" -> "NAME"); a name without one stays as it is.
fs::path stem_of(const fs::path& name) {
  return name.has_extension() ? name.parent_path() / name.stem() : name;
}

bool find_named(const fs::path& root, const std::string& name, VideoSource* found) {
  // The name exactly as given first, whatever it is: infer's --video DIR means that folder, not a
  // DIR.mp4 beside it.
  if (is_file(root / name)) {
    *found = {VideoSource::Kind::kFile, (root / name).string()};
    return true;
  }
  if (is_folder(root / name)) {
    *found = {VideoSource::Kind::kFolder, (root / name).string()};
    return true;
  }
  const fs::path stem = stem_of(name);
  std::vector<fs::path> files = {root / stem.parent_path() /
                                 ("rgb_" + stem.filename().string() + ".mp4")};
  for (const std::string& ext : video_extensions()) files.push_back(root / (stem.string() + ext));
  for (const fs::path& file : files) {
    if (is_file(file)) {
      *found = {VideoSource::Kind::kFile, file.string()};
      return true;
    }
  }
  if (is_folder(root / stem)) {
    *found = {VideoSource::Kind::kFolder, (root / stem).string()};
    return true;
  }
  return false;
}

}  // namespace

VideoSource find_video(const std::string& root, const VideoEntry& entry) {
  VideoSource found;
  if (find_named(root, entry.name, &found)) return found;
  for (const std::string& name : entry.other_names)
    if (find_named(root, name, &found)) return found;
  return {VideoSource::Kind::kMissing, (fs::path(root) / stem_of(entry.name)).string()};
}

VideoSources::VideoSources(std::string root, int64_t count)
    : root_(std::move(root)),
      found_(static_cast<size_t>(count)),
      known_(static_cast<size_t>(count)) {}

VideoSource VideoSources::find(int64_t index, const VideoEntry& entry) const {
  RF_CHECK(index >= 0 && index < static_cast<int64_t>(found_.size()), "video ", index, " of ",
           found_.size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (known_[index]) return found_[index];
  }
  // Looked up outside the lock: two threads may both look, and find the same.
  const VideoSource source = find_video(root_, entry);
  std::lock_guard<std::mutex> lock(mu_);
  found_[index] = source;
  known_[index] = true;
  return source;
}

}  // namespace repflow
