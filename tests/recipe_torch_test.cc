// tools/recipe_torch.py's port of the default recipe is repflow's: its SyntheticMotion gives the
// clips of training/data/synthetic_motion.cc (both presets, training and evaluation requests,
// fixed and fresh training clips, odd shapes, several distractors) to float rounding, its
// epoch_samples the shuffle and clip seeds of training/data/epoch_order.cc, its lr_at the
// learning rates of training/optim/lr_schedule.cc; and //tools:bench_recipe runs both sides of a
// small recipe and refuses bad flags. Needs Debian's /usr/bin/python3 with torch (the script
// imports it); skips visibly without it.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "framework/npy.h"
#include "tests/test_util.h"
#include "training/data/epoch_order.h"
#include "training/data/synthetic_motion.h"
#include "training/optim/lr_schedule.h"

namespace repflow {
namespace {

std::string g_script, g_bench, g_train;

// argv: the port, the cases (JSON), the output prefix. Writes PREFIX_clip<i>.npy per clip and
// PREFIX_out.json with the labels, the epoch orders and the schedules' learning rates.
const char kPortRun[] = R"(
import json, os, sys, numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[1])))
import recipe_torch
cases = json.load(open(sys.argv[2]))
out = sys.argv[3]
labels = []
for i, c in enumerate(cases["clips"]):
    data = recipe_torch.SyntheticMotion(recipe_torch.synthetic_options(c["preset"],
                                                                       **c["options"]))
    frames, label = data.clip(c["index"], c["train"], c["seed"], c["clip_index"])
    np.save("%s_clip%d.npy" % (out, i), frames)
    labels.append(label)
orders = [recipe_torch.epoch_samples(o["videos"], o["seed"], o["epoch"], o["train"],
                                     o["clips_per_video"]) for o in cases["orders"]]
lrs = [[recipe_torch.lr_at(c["flags"], c["epochs"], e, i, c["steps"]) for e in range(c["epochs"])
        for i in range(c["steps"])] for c in cases["schedules"]]
json.dump({"labels": labels, "orders": orders, "lrs": lrs}, open(out + "_out.json", "w"))
)";

struct ClipCase {
  const char* label;
  const char* preset;
  SyntheticMotionOptions options;  // after the preset: seed, split, sizes, shape and overrides
  int64_t index;
  ClipRequest request;
};

// The preset's options with the case's changes applied by `edit`, as the port takes them.
template <class Edit>
SyntheticMotionOptions options_of(const char* preset, Edit edit) {
  SyntheticMotionOptions o = synthetic_preset(preset, {});
  edit(o);
  return o;
}

nlohmann::json options_json(const SyntheticMotionOptions& o) {
  return {{"seed", o.seed},
          {"split", o.split == SyntheticMotionOptions::Split::kTrain ? "train" : "val"},
          {"size", o.size},
          {"classes", o.classes},
          {"frames", o.frames},
          {"height", o.height},
          {"width", o.width},
          {"min_speed", o.min_speed},
          {"max_speed", o.max_speed},
          {"min_object", o.min_object},
          {"max_object", o.max_object},
          {"shake", o.shake},
          {"distractors", o.distractors},
          {"min_distractor", o.min_distractor},
          {"max_distractor", o.max_distractor},
          {"texture_cell", o.texture_cell},
          {"noise", o.noise},
          {"fresh_train_clips", o.fresh_train_clips}};
}

std::vector<ClipCase> clip_cases() {
  using Split = SyntheticMotionOptions::Split;
  const uint64_t big_seed = 0x9E3779B97F4A7C15ull;  // both halves of the 64-bit counter in use
  return {
      {"easy_train", "easy", options_of("easy", [](auto&) {}), 5, ClipRequest::training(big_seed)},
      {"easy_val", "easy", options_of("easy", [](auto& o) { o.split = Split::kVal; }), 13,
       ClipRequest::evaluation(2, 3)},
      {"hard_train", "hard", options_of("hard", [](auto& o) { o.seed = 7; }), 7,
       ClipRequest::training(12345)},
      {"hard_val", "hard", options_of("hard", [](auto& o) { o.split = Split::kVal; }), 1000,
       ClipRequest::evaluation(1, 2)},
      // A video's fixed clip at a random start: late frames of the endless motion.
      {"hard_fixed_clip", "hard", options_of("hard", [](auto& o) { o.fresh_train_clips = false; }),
       3, ClipRequest::training(big_seed)},
      {"odd_shape", "easy",
       options_of("easy",
                  [](auto& o) {
                    o.seed = 3;
                    o.classes = 5;
                    o.frames = 4;
                    o.height = 20;
                    o.width = 27;
                    o.texture_cell = 3;
                    o.distractors = 2;
                    o.shake = 1.5f;
                  }),
       9, ClipRequest::training(77)},
  };
}

struct OrderCase {
  int64_t videos;
  SampleOrder order;
  int64_t epoch;
};

std::vector<OrderCase> order_cases() {
  SampleOrder train;
  SampleOrder seeded = train;
  seeded.seed = 0xDEADBEEF12345ull;
  SampleOrder eval;
  eval.train = false;
  eval.clips_per_video = 3;
  return {{1024, train, 0}, {1024, train, 4}, {37, seeded, 2}, {5, eval, 0}};
}

// Learning-rate flags (the trainer's), for runs of 3 epochs of 7 steps.
const std::vector<std::vector<std::string>> kSchedules = {
    {"--lr", "0.05", "--lr-schedule", "cosine"},
    {"--lr", "0.1", "--lr-schedule", "cosine", "--lr-min", "0.001", "--warmup-epochs", "1.5"},
    {"--lr-schedule", "step", "--lr-steps", "1,2", "--lr-gamma", "0.5", "--warmup-steps", "3"},
    {"--lr-schedule", "step", "--lr-step-every", "2"},
    {"--lr", "0.02"},
};
constexpr int64_t kScheduleEpochs = 3, kScheduleSteps = 7;

class RecipeTorch : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!debian_python_imports("torch, numpy"))
      GTEST_SKIP() << kDebianPython << " cannot import torch and numpy: install Debian's "
                   << "python3-torch to compare the recipe's PyTorch port";
  }
};

TEST_F(RecipeTorch, PortGivesRepflowsClipsAndEpochOrders) {
  const std::vector<ClipCase> clips = clip_cases();
  const std::vector<OrderCase> orders = order_cases();
  nlohmann::json cases = {{"clips", nlohmann::json::array()},
                          {"orders", nlohmann::json::array()},
                          {"schedules", nlohmann::json::array()}};
  for (const ClipCase& c : clips)
    cases["clips"].push_back({{"preset", c.preset},
                              {"options", options_json(c.options)},
                              {"index", c.index},
                              {"train", c.request.train},
                              {"seed", c.request.seed},
                              {"clip_index", c.request.clip_index}});
  for (const OrderCase& o : orders)
    cases["orders"].push_back({{"videos", o.videos},
                               {"seed", o.order.seed},
                               {"epoch", o.epoch},
                               {"train", o.order.train},
                               {"clips_per_video", o.order.clips_per_video}});
  std::vector<LrSchedule> schedules;
  for (const std::vector<std::string>& args : kSchedules) {
    Flags flags("train", "");
    add_lr_schedule_flags(flags);
    ASSERT_TRUE(parse_args(flags, args));
    schedules.emplace_back(lr_schedule_from_flags(flags, kScheduleEpochs));
    nlohmann::json values = nlohmann::json::object();
    for (const auto& [name, value] : flags.values()) values[name] = value;
    cases["schedules"].push_back(
        {{"flags", values}, {"epochs", kScheduleEpochs}, {"steps", kScheduleSteps}});
  }
  const std::string prefix = test_tmp("recipe_port");
  std::ofstream(prefix + "_cases.json") << cases.dump();
  const std::string script = test_tmp("port_run.py");
  std::ofstream(script) << kPortRun;
  const CommandResult ran = run_command(kDebianPython + " " + script + " " + g_script + " " +
                                        prefix + "_cases.json " + prefix);
  ASSERT_EQ(ran.status, 0) << ran.output;
  nlohmann::json out;
  std::ifstream(prefix + "_out.json") >> out;

  for (size_t i = 0; i < clips.size(); ++i) {
    const ClipCase& c = clips[i];
    const Clip want = SyntheticMotion(c.options).clip(c.index, c.request);
    const Tensor got = read_npy(prefix + "_clip" + std::to_string(i) + ".npy");
    EXPECT_EQ(out["labels"][i].get<int64_t>(), want.label) << c.label;
    ASSERT_EQ(got.shape(), want.frames.shape()) << c.label;
    const std::vector<float> a = got.to_vector(), b = want.frames.to_vector();
    double worst = 0;
    for (size_t j = 0; j < a.size(); ++j) worst = std::max(worst, std::abs(double(a[j]) - b[j]));
    EXPECT_LT(worst, 1e-5) << c.label << ": largest difference of " << a.size() << " values";
  }
  for (size_t i = 0; i < orders.size(); ++i) {
    const OrderCase& o = orders[i];
    const std::vector<Sample> want = epoch_samples(o.videos, o.order, o.epoch);
    const nlohmann::json& got = out["orders"][i];
    ASSERT_EQ(got.size(), want.size()) << "order " << i;
    for (size_t p = 0; p < want.size(); ++p) {
      const Sample& s = want[p];
      const nlohmann::json expected = {s.video, s.request.train, s.request.seed,
                                       s.request.clip_index};
      ASSERT_EQ(got[p], expected) << "order " << i << " position " << p;
    }
  }
  for (size_t i = 0; i < schedules.size(); ++i) {
    const nlohmann::json& got = out["lrs"][i];
    ASSERT_EQ(got.size(), static_cast<size_t>(kScheduleEpochs * kScheduleSteps));
    for (int64_t e = 0; e < kScheduleEpochs; ++e)
      for (int64_t step = 0; step < kScheduleSteps; ++step)
        EXPECT_NEAR(got[e * kScheduleSteps + step].get<double>(),
                    schedules[i].lr(e, step, kScheduleSteps), 1e-12)
            << "schedule " << i << " epoch " << e << " step " << step;
  }
}

// Two epochs of a few clips, both sides: one BENCH line and one final line each, and the table.
TEST_F(RecipeTorch, BenchRunsBothSidesOfTheRecipe) {
  const CommandResult r =
      run_command(g_bench + " --train " + g_train + " --epochs 2 --threads 1 -- " +
                  "--synthetic-train 16 --synthetic-val 8 --batch-size 4 --workers 1");
  ASSERT_EQ(r.status, 0) << r.output;
  std::vector<std::string> impls;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("BENCH ", 0) != 0) continue;
    const nlohmann::json j = nlohmann::json::parse(line.substr(6));
    EXPECT_EQ(j["bench"], "recipe") << line;
    EXPECT_EQ(j["clips"], 32) << line;  // two epochs of 4 batches of 4
    EXPECT_EQ(j["epochs"], 2) << line;
    impls.push_back(j["impl"]);
  }
  EXPECT_EQ(impls, (std::vector<std::string>{"repflow", "pytorch"})) << r.output;
  size_t finals = 0;
  for (size_t at = r.output.find("final: val_top1="); at != std::string::npos;
       at = r.output.find("final: val_top1=", at + 1))
    ++finals;
  EXPECT_EQ(finals, 2u) << r.output;
  EXPECT_NE(r.output.find("| pytorch | "), std::string::npos) << r.output;
}

TEST(BenchRecipeFlags, BadFlagsExitWithStatus2) {
  for (const std::string& args :
       {std::string("--epochs 0"), std::string("--device gpu"), std::string("--nope"),
        std::string("-- --threads 2"), std::string("--train /nonexistent/train")}) {
    const CommandResult r = run_command(g_bench + " --torch=false " + args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find("error: "), std::string::npos) << args << "\n" << r.output;
  }
  // Trainer flags that would time another run than the recipe's: --resume trains only the
  // epochs left, --check and --help none.
  for (const std::string flag : {"resume", "check", "help"}) {
    const CommandResult r = run_command(g_bench + " --torch=false -- --" + flag);
    EXPECT_EQ(r.status, 2) << flag << "\n" << r.output;
    EXPECT_NE(r.output.find("error: bench_recipe: trainer flag --" + flag +
                            " cannot be given after `--`"),
              std::string::npos)
        << r.output;
  }
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 4) {
    std::fprintf(stderr, "usage: recipe_torch_test RECIPE_TORCH_PY BENCH_RECIPE TRAIN\n");
    return 2;
  }
  repflow::g_script = argv[1];
  repflow::g_bench = argv[2];
  repflow::g_train = argv[3];
  return RUN_ALL_TESTS();
}
