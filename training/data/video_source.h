#pragma once
// Where the pixels of a listed video are: a video file (training/data/video_file.h) or a folder
// of extracted frames (training/data/video_frames.h), found under the dataset root from the
// name the list gives (training/data/video_list.h).
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "training/data/video_list.h"

namespace repflow {

struct VideoSource {
  enum class Kind { kFile, kFolder, kMissing };
  Kind kind = Kind::kMissing;
  // The video file or the frame folder. Missing: ROOT/NAME without its extension, the folder
  // the list's name stands for, for messages.
  std::string path;
};

// The video `entry` names under `root`. For its name and then each of its other names, the
// first of:
//   1. ROOT/NAME exactly: a file is a video file (NAME.avi of an HMDB split file, rgb_ID.mp4 of
//      the paper's Kinetics lists, any PATH of a plain list), a directory a frame folder;
//   2. ROOT/DIR/rgb_STEM.mp4, a file, where DIR/STEM is NAME without its extension (the paper's
//      naming of Kinetics videos);
//   3. ROOT/STEM.EXT, a file, for EXT in .mp4 .avi .mkv .webm .mov;
//   4. ROOT/STEM, a directory: a frame folder.
// Nothing found: Kind::kMissing. It only looks at the file system (stat), never opens a file.
VideoSource find_video(const std::string& root, const VideoEntry& entry);

// find_video once per video of a list, remembered: the loader asks for every clip, from
// several threads at once, and a dataset of 300,000 videos is not stat-ed over again each epoch.
class VideoSources {
 public:
  VideoSources(std::string root, int64_t count);
  // Thread-safe. `index` is the entry's index in its list (0 <= index < count).
  VideoSource find(int64_t index, const VideoEntry& entry) const;

 private:
  const std::string root_;
  mutable std::mutex mu_;
  mutable std::vector<VideoSource> found_;
  mutable std::vector<bool> known_;
};

}  // namespace repflow
