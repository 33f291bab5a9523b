#pragma once
// The trainer's data flags and the datasets they describe: the built-in synthetic motion set
// (the default), or frame folders listed in the formats of training/video_list.h.
#include <memory>

#include "framework/flags.h"
#include "training/dataset.h"

namespace repflow {

void add_data_flags(Flags& flags);

struct DataSplits {
  std::unique_ptr<Dataset> train, val;
};
// Errors name the flag or file that is wrong.
DataSplits make_datasets(const Flags& flags);

}  // namespace repflow
