#pragma once
// The lists that name a dataset's videos: which video, which class. Formats:
//
// - hmdb: the split files of the paper's code, one `NAME LABEL` line per video
//   (`brush_hair_f_nm_np1_ba_goo_0.avi brush_hair`). Classes are numbered in the order they first
//   appear, as the paper's code does. Or HMDB51's official split directory
//   (testTrainMulti_7030_splits: `<class>_test_split<k>.txt` files of `NAME.avi 0|1|2` lines),
//   read with a split; classes in alphabetical order (training/data/official_lists.h).
// - ucf101: UCF101's official lists (ucfTrainTestlist: trainlist0k.txt, testlist0k.txt and the
//   classInd.txt beside them), or their directory read with a split.
// - kinetics: the JSON lists of the paper's code, {"rgb_ID_START_END.mp4": CLASS_INDEX, ...},
//   or the official Kinetics annotation files: JSON,
//   {"ID": {"annotations": {"label": "NAME", ...}, "subset": ..., ...}, ...}, or CSV (a file
//   named *.csv, `label,youtube_id,time_start,time_end,split` rows under a header). Classes of the
//   official files are numbered in the alphabetical order of their names. JSON videos come in
//   the alphabetical order of their keys, CSV videos in the order of the rows.
// - plain: `PATH NUM_FRAMES LABEL` lines (LABEL an integer); PATH may hold
//   spaces (the last two fields are the numbers). Or `PATH LABEL` when PATH has an extension
//   (a video file, `clips/a b.mp4 3`): its frames are counted when it is read.
//
// Blank lines are skipped. A malformed line or entry, or a list that looks like another format,
// is an Error naming the file and the line (or key) and quoting it; a label outside the classes
// is an Error naming the label.
#include <cstdint>
#include <string>
#include <vector>

namespace repflow {

enum class ListFormat { kHmdb, kKinetics, kPlain, kUcf101 };

// "hmdb", "ucf101", "kinetics" or "plain"; anything else is an Error listing them.
ListFormat parse_list_format(const std::string& name);
bool is_list_format(const std::string& name);
// The formats' names for messages and help: "hmdb, ucf101, kinetics or plain".
std::string list_format_choices();

// Which rows a list is read for. The official lists hold several subsets (a Kinetics annotation
// file's "subset" or "split", an HMDB51 split file's 1 = training and 2 = testing, UCF101's
// trainlist and testlist): a training list takes the training rows, a validation list the
// validation (testing) rows, so one file or directory may be given as both. Lists without
// subsets read alike for both.
enum class ListRole { kTrain, kVal };

struct VideoEntry {
  // The video as the list names it, relative to the dataset root, extension kept
  // ("NAME.avi", "rgb_ID_START_END.mp4", "ID", "PATH"); the dataset finds its frames
  // (training/data/frame_dataset.h).
  std::string name;
  int64_t label = 0;        // index into VideoList::classes
  int64_t num_frames = -1;  // as the list says (plain); -1: count the video's frames
  // Other names of the same video, relative to the root, tried in order when `name` is not
  // there: where the dataset owners' own tools put it (a folder per class for HMDB51's archives
  // and the Kinetics downloader, "CLASS/NAME.avi"; UCF101's name without its class folder).
  std::vector<std::string> other_names;
};

struct VideoList {
  std::vector<VideoEntry> videos;
  std::vector<std::string> classes;  // class index -> name
};

// Reads a list (a file, or for hmdb and ucf101 an official split directory with `split` 1, 2 or
// 3; `split` is 0 for a file). With `classes` empty the list defines the classes (a training
// list; ucf101 takes them from the classInd.txt beside the list); otherwise labels are looked up
// in them, and a label they lack is an Error (a validation list read with the training list's
// classes, or with read_class_names). Integer labels (kinetics of the paper's code, plain)
// without `classes` give classes named "0" ... "MAX". `role` picks the rows of lists that hold
// several subsets; one that selects no video is an Error naming the subsets the list has.
VideoList read_video_list(const std::string& path, ListFormat format,
                          const std::vector<std::string>& classes = {},
                          ListRole role = ListRole::kTrain, int split = 0);

// Class names in index order from a file: the paper's Kinetics class map
// ({"\"NAME\"": INDEX, ...}, quotes around names dropped; the indices must be 0 ... N-1) when it
// ends in .json; UCF101's classInd.txt (`INDEX NAME` lines, indices 1 ... N) when every line is
// such a line; otherwise one name per line.
std::vector<std::string> read_class_names(const std::string& path);

}  // namespace repflow
