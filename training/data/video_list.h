#pragma once
// The lists that name a dataset's videos: which video, which class. Three formats:
//
// - hmdb: the split files of the paper's code, one `NAME LABEL` line per video
//   (`brush_hair_f_nm_np1_ba_goo_0.avi brush_hair`). Classes are numbered in the order they first
//   appear, as the paper's code does.
// - kinetics: the JSON lists of the paper's code, {"rgb_ID_START_END.mp4": CLASS_INDEX, ...},
//   or the official Kinetics annotation files,
//   {"ID": {"annotations": {"label": "NAME", ...}, "subset": ..., ...}, ...}, classes numbered in
//   the alphabetical order of their names. Videos come in the alphabetical order of their keys.
// - plain: `PATH NUM_FRAMES LABEL` lines (LABEL an integer); PATH may hold
//   spaces (the last two fields are the numbers).
//
// Blank lines are skipped. A malformed line or entry is an Error naming the file and the line
// (or key); a label outside the classes is an Error naming the label.
#include <cstdint>
#include <string>
#include <vector>

namespace repflow {

enum class ListFormat { kHmdb, kKinetics, kPlain };

// "hmdb", "kinetics" or "plain"; anything else is an Error listing the three.
ListFormat parse_list_format(const std::string& name);

struct VideoEntry {
  // The video as the list names it, relative to the dataset root, extension kept
  // ("NAME.avi", "rgb_ID_START_END.mp4", "ID", "PATH"); the dataset finds its frames
  // (training/data/frame_dataset.h).
  std::string name;
  int64_t label = 0;        // index into VideoList::classes
  int64_t num_frames = -1;  // as the list says (plain); -1: count the directory's frames
};

struct VideoList {
  std::vector<VideoEntry> videos;
  std::vector<std::string> classes;  // class index -> name
};

// Reads a list. With `classes` empty the list defines the classes (a training list); otherwise
// labels are looked up in them, and a label they lack is an Error (a validation list read with
// the training list's classes, or with read_class_names). Integer labels (kinetics of the
// paper's code, plain) without `classes` give classes named "0" ... "MAX".
VideoList read_video_list(const std::string& path, ListFormat format,
                          const std::vector<std::string>& classes = {});

// Class names in index order from a file: the paper's Kinetics class map
// ({"\"NAME\"": INDEX, ...}, quotes around names dropped; the indices must be 0 ... N-1) when it
// ends in .json, otherwise one name per line.
std::vector<std::string> read_class_names(const std::string& path);

}  // namespace repflow
