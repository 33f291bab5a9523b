#pragma once
// The trainer's data flags and the datasets they describe: the built-in synthetic motion set
// (the default), or frame folders listed in the formats of training/data/video_list.h.
#include <memory>
#include <string>
#include <vector>

#include "framework/flags.h"
#include "training/data/dataset.h"
#include "training/data/video_frames.h"

namespace repflow {

void add_data_flags(Flags& flags);

// The data flags that name files or directories (a run saves them absolute, so that it resumes
// from any directory).
const std::vector<std::string>& data_path_flags();

struct DataSplits {
  std::unique_ptr<Dataset> train, val;
  std::vector<std::string> class_names;  // index -> name
  ClipMeta input;  // how clips are cut, for the run's weight file (training/weights_meta.h)
  // What the lists hold that is legal but more often a mistake (a video listed twice, videos in
  // both lists), for the trainer to say: "note: " lines without the prefix.
  std::vector<std::string> notes;
};
// Errors name the flag or file that is wrong.
DataSplits make_datasets(const Flags& flags);

}  // namespace repflow
