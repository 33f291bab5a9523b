#include "training/data/data_flags.h"

#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "framework/error.h"
#include "training/data/frame_dataset.h"
#include "training/data/list_parsing.h"
#include "training/data/synthetic_motion.h"
#include "training/data/video_file.h"
#include "training/data/video_list.h"

namespace repflow {

namespace {

// Synthetic videos per split: four times Kinetics-700's 650,000 training videos. The trainer keeps
// an epoch's order and each video's results, about 80 bytes a video, which at kMaxFlagCount would
// be 80 GB before the first step.
constexpr int64_t kMaxSyntheticVideos = 2600000;

DataSplits synthetic(const Flags& flags) {
  SyntheticMotionOptions o;
  try {
    o = synthetic_preset(flags.str("synthetic-preset"), {});
  } catch (const Error& e) {
    RF_FAIL("flag --synthetic-preset: ", e.what());
  }
  o.seed = static_cast<uint64_t>(flags.integer("data-seed"));
  if (!flags.str("synthetic-classes").empty())
    o.classes = flags.integer_in("synthetic-classes", 2, kMaxClasses);
  // The generator's own minima (two frames make a motion, 4 x 4 pixels an object on a
  // background), checked here so that the message names the flag.
  if (!flags.str("frames").empty()) o.frames = flags.integer_in("frames", 2, kMaxClipFrames);
  if (!flags.str("size").empty()) o.height = o.width = flags.integer_in("size", 4, kMaxFrameSide);
  DataSplits s;
  o.size = flags.integer_in("synthetic-train", 1, kMaxSyntheticVideos);
  s.train = std::make_unique<SyntheticMotion>(o);
  o.split = SyntheticMotionOptions::Split::kVal;
  o.size = flags.integer_in("synthetic-val", 1, kMaxSyntheticVideos);
  s.val = std::make_unique<SyntheticMotion>(o);
  for (int64_t c = 0; c < o.classes; ++c) s.class_names.push_back(motion_class_name(c, o.classes));
  s.input.frames = o.frames;
  s.input.stride = 1;
  s.input.resize = 0;
  s.input.size = static_cast<int>(o.height);
  s.input.norm = synthetic_motion_normalisation();
  return s;
}

std::string required(const Flags& flags, const std::string& name, const std::string& kind) {
  const std::string v = flags.str(name);
  RF_CHECK(!v.empty(), "flag --", name, " is required with --data ", kind);
  return user_path(v);
}

// "a.avi, b.avi, ... (N)": the first few of `names`.
std::string some(const std::vector<std::string>& names) {
  constexpr size_t kShown = 5;
  std::string out;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) out += (i ? ", " : "") + names[i];
  return out + (names.size() > kShown ? ", ..." : "");
}

// Videos listed more than once (oversampling, or a list concatenated twice) and videos in both
// lists (a look at training accuracy, or validation measuring training videos): legal, so said,
// not refused. By the lists' names, before any video is looked for. One video under two classes
// (an edited list, or a split file copied into another class's) is an Error: it has one label.
std::vector<std::string> list_notes(const VideoList& train, const VideoList& val) {
  std::map<std::string, int64_t> label_of;
  for (const auto* list : {&train, &val})
    for (const VideoEntry& e : list->videos) {
      const auto [it, first] = label_of.emplace(e.name, e.label);
      RF_CHECK(first || it->second == e.label, "video '", excerpt(e.name), "' is listed as ",
               train.classes[it->second], " and as ", train.classes[e.label], " (",
               list == &train ? "--train-list" : "--val-list", "): a video has one class");
    }
  std::vector<std::string> notes;
  std::set<std::string> seen;
  std::vector<std::string> repeated;
  for (const VideoEntry& e : train.videos)
    if (!seen.insert(e.name).second) repeated.push_back(e.name);
  if (!repeated.empty())
    notes.push_back("--train-list names " + std::to_string(repeated.size()) + " video(s) again (" +
                    some(repeated) + "): each is trained as often");
  std::vector<std::string> both;
  std::set<std::string> in_val;
  for (const VideoEntry& e : val.videos)
    if (seen.count(e.name) && in_val.insert(e.name).second) both.push_back(e.name);
  if (!both.empty())
    notes.push_back(std::to_string(both.size()) +
                    " of --val-list's videos are in --train-list too (" + some(both) +
                    "): validation measures them as training videos");
  return notes;
}

DataSplits frame_folders(const Flags& flags, const std::string& kind) {
  const ListFormat format = parse_list_format(kind);
  FrameDatasetOptions o;
  o.root = required(flags, "root", kind);
  if (!flags.str("frames").empty()) o.frames = flags.integer_in("frames", 1, kMaxClipFrames);
  if (!flags.str("size").empty())
    o.crop = static_cast<int>(flags.integer_in("size", 1, kMaxFrameSide));
  o.stride = flags.integer_in("stride", 1, kMaxClipFrames);
  o.norm = parse_normalisation(flags.str("norm"), "flag --norm");
  o.resize = static_cast<int>(flags.integer_in("resize", 0, kMaxFrameSide));
  o.flip = flags.boolean("flip");
  o.decode_size = static_cast<int>(flags.integer_in("decode-size", 0, kMaxFrameSide));
  o.decoder_threads =
      decoder_threads_per_worker(static_cast<int>(flags.integer_in("workers", 1, kMaxFlagCount)));
  std::vector<std::string> classes;
  if (!flags.str("class-names").empty())
    classes = read_class_names(user_path(flags.str("class-names")));
  const int split = flags.str("split").empty() ? 0 : flags.integer_in("split", 1, 3);
  RF_CHECK(split == 0 || format == ListFormat::kHmdb || format == ListFormat::kUcf101,
           "flag --split: splits are those of HMDB51's and UCF101's official split directories "
           "(--data hmdb or ucf101), not of --data ",
           kind);
  const std::string train_path = required(flags, "train-list", kind);
  const bool split_format = format == ListFormat::kHmdb || format == ListFormat::kUcf101;
  RF_CHECK(split_format || !std::filesystem::is_directory(train_path), "flag --train-list: '",
           train_path, "' is a directory; --data ", kind,
           " reads a list file (split directories are HMDB51's and UCF101's)");
  // An official split directory holds the testing rows too: they are the validation list.
  std::string val_path = train_path;
  if (!std::filesystem::is_directory(train_path) || !flags.str("val-list").empty()) {
    val_path = required(flags, "val-list", kind);
    std::error_code ec;
    RF_CHECK(!std::filesystem::is_directory(train_path) ||
                 std::filesystem::equivalent(train_path, val_path, ec),
             "flag --val-list: '", val_path, "' is not the split directory --train-list names ('",
             train_path, "'), whose testing rows are the validation list (leave --val-list out)");
  }
  VideoList train = read_video_list(train_path, format, classes, ListRole::kTrain, split);
  // The validation list takes the training list's classes, so one index means one class.
  VideoList val = read_video_list(val_path, format, train.classes, ListRole::kVal, split);
  // Said here, naming the list: further on an empty list shows as a model of no classes or a
  // loader with nothing to load.
  RF_CHECK(!train.videos.empty(), "flag --train-list: ", train_path, " lists no videos",
           split ? " for training in split " + std::to_string(split) : std::string());
  RF_CHECK(!val.videos.empty(), "flag --val-list: ", val_path, " lists no videos",
           split ? " for testing in split " + std::to_string(split) : std::string());
  // One class would train a model that is always right.
  RF_CHECK(train.classes.size() >= 2, "flag --train-list: ", train_path, " gives ",
           train.classes.size(), " class",
           train.classes.size() == 1 ? " ('" + excerpt(train.classes[0]) + "')" : "s",
           ": a classifier needs two at least");
  DataSplits s;
  s.notes = list_notes(train, val);
  s.class_names = train.classes;
  s.input.frames = o.frames;
  s.input.stride = o.stride;
  s.input.resize = o.resize;
  s.input.decode_size = o.decode_size;
  s.input.size = o.crop;
  s.input.norm = o.norm;
  s.train = std::make_unique<FrameDataset>(std::move(train), o);
  s.val = std::make_unique<FrameDataset>(std::move(val), o);
  return s;
}

// A synthetic preset's classes and speeds, for --help.
std::string preset_text(const char* name) {
  const SyntheticMotionOptions o = synthetic_preset(name, {});
  std::ostringstream s;
  s << name << " (" << o.classes << " directions, " << o.min_speed << "-" << o.max_speed
    << " px/frame";
  return s.str();
}

}  // namespace

const std::vector<std::string>& data_path_flags() {
  static const std::vector<std::string> names = {"root", "train-list", "val-list", "class-names"};
  return names;
}

void add_data_flags(Flags& flags) {
  flags.add("data", "synthetic",
            "synthetic (built-in motion classes), or the format of --train-list/--val-list: " +
                list_format_choices());
  const SyntheticMotionOptions synthetic;
  const FrameDatasetOptions folders;
  flags.add("frames", "",
            "clip length T (synthetic: " + std::to_string(synthetic.frames) +
                ", frame folders: " + std::to_string(folders.frames) + ")");
  flags.add("size", "",
            "clip height and width (synthetic: " + std::to_string(synthetic.height) +
                ", frame folders: the crop, " + std::to_string(folders.crop) + ")");
  flags.add("synthetic-train", "1024",
            "synthetic: training videos (a fresh clip of each per epoch)");
  flags.add("synthetic-val", "512", "synthetic: validation videos");
  flags.add("synthetic-preset", "easy",
            "synthetic: " + preset_text("easy") + ") or " + preset_text("hard") +
                ", camera shake, a moving distractor, more noise)");
  flags.add("synthetic-classes", "",
            "synthetic: motion directions (classes; default: the preset's)");
  flags.add("data-seed", "0", "synthetic: seed of the generated videos");
  flags.add("root", "",
            "frame folders or video files: the directory the lists' videos are relative to");
  flags.add("train-list", "",
            "frame folders: the training list (format: --data), or with --split an official "
            "split directory (HMDB51's testTrainMulti_7030_splits, UCF101's ucfTrainTestlist)");
  flags.add("val-list", "",
            "frame folders: the validation list, labelled with the training "
            "list's classes (with --split: the same directory, its testing rows, by default)");
  flags.add("split", "",
            "hmdb, ucf101: the split (1, 2 or 3) of the official split directory given as "
            "--train-list; empty when the lists are files");
  flags.add("class-names", "",
            "frame folders: class names in index order (one per line, UCF101's classInd.txt, or "
            "the paper's Kinetics class-map JSON); default: from the training list (ucf101: the "
            "classInd.txt beside it)");
  flags.add("norm", "imagenet",
            "frame folders: pixel normalisation, imagenet (torchvision's "
            "mean/std), paper (1 - 2 x / 255, what the published weights saw) or M,M,M/S,S,S");
  flags.add("stride", std::to_string(folders.stride),
            "frame folders: frames between consecutive clip frames");
  flags.add("decode-size", std::to_string(folders.decode_size),
            "video files: decode with the shorter side scaled to this (area averaging), before "
            "--resize; 0: full size. Frame folders are read as stored");
  flags.add("flip", folders.flip ? "true" : "false",
            "mirror training clips left-right with probability 1/2 (false for classes of "
            "left/right motion)");
  flags.add("workers", "2",
            "data loading threads; each decodes video files with max(1, cores / workers) "
            "FFmpeg threads");
  flags.add("resize", std::to_string(folders.resize),
            "frame folders: shorter side after resizing, before the crop (0: "
            "keep)");
}

DataSplits make_datasets(const Flags& flags) {
  const std::string kind = flags.str("data");
  const bool generated = kind == "synthetic";
  RF_CHECK(generated || is_list_format(kind), "flag --data: '", kind, "' is not synthetic, ",
           list_format_choices());
  if (generated) {
    // Without --data, a --train-list would be ignored and the run train on generated clips.
    flags.refuse_given(
        {"root", "train-list", "val-list", "split", "class-names", "norm", "stride", "decode-size",
         "resize"},
        "is for listed videos (--data " + list_format_choices() + "), not --data synthetic");
  } else {
    // A --data-seed or --synthetic-* size would otherwise look like it shaped the listed data.
    flags.refuse_given(
        {"synthetic-train", "synthetic-val", "synthetic-preset", "synthetic-classes", "data-seed"},
        "is for --data synthetic, not --data " + kind);
  }
  return generated ? synthetic(flags) : frame_folders(flags, kind);
}

}  // namespace repflow
