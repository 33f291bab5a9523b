#include "training/data/data_flags.h"

#include "framework/error.h"
#include "training/data/frame_dataset.h"
#include "training/data/synthetic_motion.h"
#include "training/data/video_list.h"

namespace repflow {

namespace {

// Upper bound for counts given as flags: far above any real use, and within int.
constexpr int64_t kMaxCount = 1000000000;

DataSplits synthetic(const Flags& flags) {
  SyntheticMotionOptions o;
  o.seed = static_cast<uint64_t>(flags.integer("data-seed"));
  o.classes = flags.integer_in("synthetic-classes", 1, kMaxCount);
  o.frames = flags.str("frames").empty() ? 8 : flags.integer_in("frames", 1, kMaxCount);
  o.height = o.width = flags.str("size").empty() ? 32 : flags.integer_in("size", 1, kMaxCount);
  DataSplits s;
  o.size = flags.integer_in("synthetic-train", 1, kMaxCount);
  s.train = std::make_unique<SyntheticMotion>(o);
  o.split = SyntheticMotionOptions::Split::kVal;
  o.size = flags.integer_in("synthetic-val", 1, kMaxCount);
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

DataSplits frame_folders(const Flags& flags, const std::string& kind) {
  const ListFormat format = parse_list_format(kind);
  FrameDatasetOptions o;
  o.root = required(flags, "root", kind);
  if (!flags.str("frames").empty()) o.frames = flags.integer_in("frames", 1, kMaxCount);
  if (!flags.str("size").empty()) o.crop = static_cast<int>(flags.integer_in("size", 1, kMaxCount));
  o.stride = flags.integer_in("stride", 1, kMaxCount);
  o.norm = parse_normalisation(flags.str("norm"), "flag --norm");
  o.resize = static_cast<int>(flags.integer_in("resize", 0, kMaxCount));
  std::vector<std::string> classes;
  if (!flags.str("class-names").empty())
    classes = read_class_names(user_path(flags.str("class-names")));
  VideoList train = read_video_list(required(flags, "train-list", kind), format, classes);
  // The validation list takes the training list's classes, so one index means one class.
  VideoList val = read_video_list(required(flags, "val-list", kind), format, train.classes);
  DataSplits s;
  s.class_names = train.classes;
  s.input.frames = o.frames;
  s.input.stride = o.stride;
  s.input.resize = o.resize;
  s.input.size = o.crop;
  s.input.norm = o.norm;
  s.train = std::make_unique<FrameDataset>(std::move(train), o);
  s.val = std::make_unique<FrameDataset>(std::move(val), o);
  return s;
}

}  // namespace

const std::vector<std::string>& data_path_flags() {
  static const std::vector<std::string> names = {"root", "train-list", "val-list", "class-names"};
  return names;
}

void add_data_flags(Flags& flags) {
  flags.add("data", "synthetic",
            "synthetic (built-in motion classes), or the format of --train-list/--val-list: "
            "hmdb, kinetics or plain");
  flags.add("frames", "", "clip length T (synthetic: 8, frame folders: 16)");
  flags.add("size", "", "clip height and width (synthetic: 32, frame folders: the crop, 112)");
  flags.add("synthetic-train", "1024",
            "synthetic: training videos (a fresh clip of each per epoch)");
  flags.add("synthetic-val", "512", "synthetic: validation videos");
  flags.add("synthetic-classes", "8", "synthetic: motion directions (classes)");
  flags.add("data-seed", "0", "synthetic: seed of the generated videos");
  flags.add("root", "", "frame folders: the directory the lists' video paths are relative to");
  flags.add("train-list", "", "frame folders: the training list (format: --data)");
  flags.add("val-list", "",
            "frame folders: the validation list, labelled with the training "
            "list's classes");
  flags.add("class-names", "",
            "frame folders: class names in index order (one per line, or the "
            "paper's Kinetics class-map JSON); default: from the training list");
  flags.add("norm", "imagenet",
            "frame folders: pixel normalisation, imagenet (torchvision's "
            "mean/std), paper (1 - 2 x / 255, what the published weights saw) or M,M,M/S,S,S");
  flags.add("stride", "1", "frame folders: frames between consecutive clip frames");
  flags.add("resize", "128",
            "frame folders: shorter side after resizing, before the crop (0: "
            "keep)");
}

DataSplits make_datasets(const Flags& flags) {
  const std::string kind = flags.str("data");
  if (kind == "synthetic") return synthetic(flags);
  RF_CHECK(kind == "hmdb" || kind == "kinetics" || kind == "plain", "flag --data: '", kind,
           "' is not synthetic, hmdb, kinetics or plain");
  return frame_folders(flags, kind);
}

}  // namespace repflow
