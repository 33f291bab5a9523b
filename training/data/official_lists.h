#pragma once
// The lists as the datasets' owners publish them, read for training/data/video_list.h:
//
// - HMDB51's split directory (testTrainMulti_7030_splits): for each class and split k a file
//   `<class>_test_split<k>.txt` of `NAME.avi MARK` lines, MARK 1 training, 2 testing, 0 unused.
//   Classes are numbered in the alphabetical order of their names, as torchvision's and
//   mmaction2's HMDB51 loaders do (the paper's code numbered the classes of its own lists in
//   order of appearance, an order these files do not give). A video is `NAME.avi`, or
//   `<class>/NAME.avi` as the dataset's archives unpack.
// - UCF101's lists (ucfTrainTestlist): `CLASS/NAME.avi INDEX` lines (trainlist0k.txt, INDEX
//   1-based into classInd.txt) or `CLASS/NAME.avi` lines (testlist0k.txt, the class from the
//   folder); classes in classInd.txt's order. A video is `CLASS/NAME.avi` as the dataset unpacks,
//   or `NAME.avi`.
// - Kinetics' annotation files: CSV (`label,youtube_id,time_start,time_end,split[,is_cc]` under
//   a header, fields quoted as CSV quotes them) and JSON ({"ID": {"annotations": {"label": ...,
//   "segment": [START, END]}, "subset": ...}}). Classes in alphabetical order. A CSV row's video
//   is `ID_START_END` (the ActivityNet downloader's file name, times as %06d, without its
//   extension), or `LABEL/ID_START_END` in the downloader's folder per label (spaces kept, or
//   replaced by '_'); a JSON entry's is `ID` as before, then those names.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "training/data/list_parsing.h"
#include "training/data/video_list.h"

namespace repflow {

// The rows of `role` from the files of split `split` (1, 2 or 3) in `dir`.
void read_hmdb_split_directory(const std::string& dir, int split, ListRole role,
                               ClassIndex& classes, std::vector<VideoEntry>& videos);

// A UCF101 list read with the classes of classInd.txt (or the caller's); its lines say their
// class, so both kinds read alike for either role.
void read_ucf101_list(const std::string& path, ClassIndex& classes,
                      std::vector<VideoEntry>& videos);

// UCF101's classInd.txt: `INDEX NAME` lines, indices 1 ... N once each. Returns false (and
// leaves `names` alone) when some non-blank line is not `INTEGER NAME`; other faults are Errors.
bool read_class_ind(const std::string& path, const std::vector<std::string>& lines,
                    std::vector<std::string>* names);

void read_kinetics_csv(const std::string& path, ListRole role, ClassIndex& classes,
                       std::vector<VideoEntry>& videos);

// An official Kinetics JSON annotation file, already parsed.
void read_kinetics_annotations(const std::string& path, const nlohmann::json& j, ListRole role,
                               ClassIndex& classes, std::vector<VideoEntry>& videos);

}  // namespace repflow
