#include "training/data_flags.h"

#include "framework/error.h"
#include "training/synthetic_motion.h"

namespace repflow {

namespace {

int64_t positive(const Flags& flags, const std::string& name) {
  const int64_t v = flags.integer(name);
  RF_CHECK(v >= 1, "flag --", name, ": ", v, " is not a positive count");
  return v;
}

DataSplits synthetic(const Flags& flags) {
  SyntheticMotionOptions o;
  o.seed = static_cast<uint64_t>(flags.integer("data-seed"));
  o.classes = positive(flags, "synthetic-classes");
  o.frames = flags.str("frames").empty() ? 8 : positive(flags, "frames");
  o.height = o.width = flags.str("size").empty() ? 32 : positive(flags, "size");
  DataSplits s;
  o.size = positive(flags, "synthetic-train");
  s.train = std::make_unique<SyntheticMotion>(o);
  o.split = SyntheticMotionOptions::Split::kVal;
  o.size = positive(flags, "synthetic-val");
  s.val = std::make_unique<SyntheticMotion>(o);
  return s;
}

}  // namespace

void add_data_flags(Flags& flags) {
  flags.add("data", "synthetic",
            "synthetic (built-in motion classes), or the format of --train-list/--val-list: "
            "hmdb, kinetics or plain");
  flags.add("frames", "", "clip length T (synthetic: 8, frame folders: 16)");
  flags.add("size", "", "clip height and width (synthetic: 32, frame folders: the crop, 112)");
  flags.add("synthetic-train", "2048", "synthetic: training videos");
  flags.add("synthetic-val", "512", "synthetic: validation videos");
  flags.add("synthetic-classes", "8", "synthetic: motion directions (classes)");
  flags.add("data-seed", "0", "synthetic: seed of the generated videos");
}

DataSplits make_datasets(const Flags& flags) {
  const std::string kind = flags.str("data");
  if (kind == "synthetic") return synthetic(flags);
  RF_FAIL("flag --data: '", kind, "' is not synthetic, hmdb, kinetics or plain");
}

}  // namespace repflow
