#include "training/optim/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

#include "framework/error.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

LrScheduleOptions options(LrScheduleKind kind) {
  LrScheduleOptions o;
  o.kind = kind;
  o.base_lr = 0.4;
  return o;
}

TEST(LrSchedule, StepChangesAtMilestonesOnly) {
  auto o = options(LrScheduleKind::kStep);
  o.milestones = {3, 6};
  o.gamma = 0.5;
  const LrSchedule s(o);
  EXPECT_DOUBLE_EQ(s.lr(0, 0, 10), 0.4);
  EXPECT_DOUBLE_EQ(s.lr(2, 9, 10), 0.4);
  EXPECT_DOUBLE_EQ(s.lr(3, 0, 10), 0.2);
  EXPECT_DOUBLE_EQ(s.lr(5, 9, 10), 0.2);
  EXPECT_DOUBLE_EQ(s.lr(6, 0, 10), 0.1);
  EXPECT_DOUBLE_EQ(s.lr(100, 0, 10), 0.1);
}

TEST(LrSchedule, StepEveryKEpochs) {
  auto o = options(LrScheduleKind::kStep);
  o.step_every = 2;
  o.gamma = 0.1;
  const LrSchedule s(o);
  EXPECT_DOUBLE_EQ(s.lr(1, 4, 5), 0.4);
  EXPECT_NEAR(s.lr(2, 0, 5), 0.04, 1e-15);
  EXPECT_NEAR(s.lr(5, 0, 5), 0.004, 1e-15);
}

TEST(LrSchedule, CosineStartsAtBaseHalvesAtTheMiddleAndEndsAtTheMinimum) {
  auto o = options(LrScheduleKind::kCosine);
  o.epochs = 4;
  o.min_lr = 0.1;
  const LrSchedule s(o);
  EXPECT_DOUBLE_EQ(s.lr(0, 0, 8), 0.4);
  EXPECT_NEAR(s.lr(2, 0, 8), 0.25, 1e-12);
  // Symmetric about the midpoint, and decreasing within an epoch.
  EXPECT_NEAR(s.lr(1, 0, 8) - 0.25, 0.25 - s.lr(3, 0, 8), 1e-12);
  EXPECT_LT(s.lr(1, 5, 8), s.lr(1, 4, 8));
  EXPECT_GT(s.lr(3, 7, 8), 0.1);
  // cos(pi * 31/32) = -cos(pi/32)
  EXPECT_NEAR(s.lr(3, 7, 8) - 0.1, 0.15 * (1 - std::cos(M_PI / 32)), 1e-12);
  EXPECT_DOUBLE_EQ(s.lr(4, 0, 8), 0.1);  // past the run: stays at the minimum
}

TEST(LrSchedule, PlateauReducesAfterPatienceAndWaitsOutTheCooldown) {
  auto o = options(LrScheduleKind::kPlateau);
  o.patience = 2;
  o.factor = 0.5;
  o.cooldown = 1;
  o.min_lr = 0.06;
  LrSchedule s(o);
  s.observe(0.5);
  s.observe(0.5);  // equal is not better
  s.observe(0.4);
  EXPECT_DOUBLE_EQ(s.lr(3, 0, 1), 0.4);  // two bad epochs: within patience
  s.observe(0.45);
  EXPECT_DOUBLE_EQ(s.lr(4, 0, 1), 0.2);  // the third
  s.observe(0.1);                        // cooldown: not counted
  s.observe(0.1);
  s.observe(0.1);
  EXPECT_DOUBLE_EQ(s.lr(7, 0, 1), 0.2);
  s.observe(0.1);
  EXPECT_DOUBLE_EQ(s.lr(8, 0, 1), 0.1);
  s.observe(0.6);  // better: the count restarts
  s.observe(0.6);
  s.observe(0.6);
  EXPECT_DOUBLE_EQ(s.lr(11, 0, 1), 0.1);
  s.observe(0.6);
  EXPECT_DOUBLE_EQ(s.lr(12, 0, 1), 0.06);  // floored at min_lr
}

TEST(LrSchedule, PlateauMinModeNeedsARelativeImprovement) {
  auto o = options(LrScheduleKind::kPlateau);
  o.plateau_maximise = false;
  o.patience = 0;
  o.threshold = 0.1;
  LrSchedule s(o);
  s.observe(1.0);
  s.observe(0.95);  // less than 10% lower: no improvement
  EXPECT_NEAR(s.lr(2, 0, 1), 0.04, 1e-15);
  s.observe(0.8);
  EXPECT_NEAR(s.lr(3, 0, 1), 0.04, 1e-15);
  EXPECT_DOUBLE_EQ(s.plateau_state().best, 0.8);
  s.observe(NAN);
  EXPECT_NEAR(s.lr(4, 0, 1), 0.004, 1e-15);
}

TEST(LrSchedule, OtherSchedulesIgnoreObservations) {
  LrSchedule s(options(LrScheduleKind::kConstant));
  for (int i = 0; i < 20; ++i) s.observe(0.0);
  EXPECT_DOUBLE_EQ(s.lr(20, 0, 1), 0.4);
}

TEST(LrSchedule, WarmupRampsLinearlyOverStepsThenHandsOver) {
  auto o = options(LrScheduleKind::kStep);
  o.milestones = {2};
  o.gamma = 0.5;
  o.warmup_steps = 4;
  const LrSchedule s(o);
  for (int k = 0; k < 4; ++k) EXPECT_DOUBLE_EQ(s.lr(k / 3, k % 3, 3), 0.4 * (k + 1) / 4) << k;
  EXPECT_DOUBLE_EQ(s.lr(1, 1, 3), 0.4);
  EXPECT_DOUBLE_EQ(s.lr(2, 0, 3), 0.2);
}

TEST(LrSchedule, WarmupInEpochsCountsStepsAcrossEpochs) {
  auto o = options(LrScheduleKind::kStep);
  o.milestones = {1};
  o.gamma = 0.5;
  o.warmup_epochs = 1.5;  // 6 steps of 4 per epoch
  const LrSchedule s(o);
  EXPECT_DOUBLE_EQ(s.lr(0, 0, 4), 0.4 / 6);
  EXPECT_DOUBLE_EQ(s.lr(0, 3, 4), 0.4 * 4 / 6);
  EXPECT_DOUBLE_EQ(s.lr(1, 0, 4), 0.2 * 5 / 6);  // composed with the step schedule
  EXPECT_DOUBLE_EQ(s.lr(1, 1, 4), 0.2);
  EXPECT_DOUBLE_EQ(s.lr(1, 3, 4), 0.2);
}

TEST(LrSchedule, PlateauStateRoundTripsThroughJson) {
  auto o = options(LrScheduleKind::kPlateau);
  o.patience = 1;
  o.cooldown = 2;
  LrSchedule a(o), b(o);
  EXPECT_TRUE(plateau_state_to_json(a.plateau_state())["best"].is_null());
  for (double m : {0.3, 0.2, 0.1}) a.observe(m);
  const auto j = nlohmann::json::parse(plateau_state_to_json(a.plateau_state()).dump());
  b.set_plateau_state(plateau_state_from_json(j));
  for (double m : {0.1, 0.1, 0.1, 0.1, 0.35, 0.3}) {
    a.observe(m);
    b.observe(m);
    EXPECT_EQ(a.lr(0, 0, 1), b.lr(0, 0, 1));
  }
  EXPECT_EQ(b.plateau_state().best, 0.35);
  EXPECT_LT(b.lr(0, 0, 1), 0.04);  // two reductions happened
  EXPECT_ERROR_CONTAINS((plateau_state_from_json({{"scale", 1.0}})), "field 'best' is missing");
  EXPECT_ERROR_CONTAINS(
      (plateau_state_from_json(
          {{"scale", "x"}, {"best", nullptr}, {"bad_epochs", 0}, {"cooldown_left", 0}})),
      "field 'scale' has the wrong type");
}

TEST(LrSchedule, FlagsParseAndErrorsNameTheFlag) {
  Flags flags("train", "test");
  add_lr_schedule_flags(flags);
  ASSERT_TRUE(parse_args(flags, {"--lr=0.2", "--lr-schedule=step", "--lr-steps=30,60",
                                 "--lr-gamma=0.5", "--warmup-epochs=1"}));
  const auto o = lr_schedule_from_flags(flags, 90);
  EXPECT_EQ(o.kind, LrScheduleKind::kStep);
  EXPECT_EQ(o.milestones, (std::vector<int64_t>{30, 60}));
  EXPECT_DOUBLE_EQ(LrSchedule(o).lr(60, 0, 5), 0.05);
  // Parenthesised in the macro below: a braced list's commas would split its arguments.
  const auto from = [](std::vector<std::string> args) {
    Flags f("train", "test");
    add_lr_schedule_flags(f);
    parse_args(f, std::move(args));
    lr_schedule_from_flags(f, 10);
  };
  EXPECT_ERROR_CONTAINS((from({"--lr-schedule=linear"})), "flag --lr-schedule: 'linear'");
  EXPECT_ERROR_CONTAINS((from({"--lr-schedule=step", "--lr-steps=3,x"})),
                        "flag --lr-steps: 'x' in '3,x'");
  EXPECT_ERROR_CONTAINS((from({"--lr-schedule=step", "--lr-steps=6,3"})),
                        "flag --lr-steps: milestones must be positive epochs in increasing order");
  EXPECT_ERROR_CONTAINS((from({"--lr-schedule=step"})), "needs exactly one of them");
  EXPECT_ERROR_CONTAINS((from({"--lr-schedule=step", "--lr-step-every=2", "--lr-gamma=2"})),
                        "flag --lr-gamma: 2");
  EXPECT_ERROR_CONTAINS((from({"--lr=0"})), "flag --lr: 0");
  EXPECT_ERROR_CONTAINS((from({"--plateau-mode=up"})), "flag --plateau-mode: 'up'");
  EXPECT_ERROR_CONTAINS((from({"--lr-schedule=plateau", "--plateau-factor=1"})),
                        "flag --plateau-factor: 1");
  EXPECT_ERROR_CONTAINS((from({"--warmup-steps=3", "--warmup-epochs=1"})),
                        "give at most one of them");
  EXPECT_ERROR_CONTAINS((from({"--lr-min=1"})), "flag --lr-min: 1");
  // Another schedule's flags, valid as they are, would be ignored.
  EXPECT_ERROR_CONTAINS((from({"--lr-schedule=cosine", "--lr-gamma=0.5"})),
                        "flag --lr-gamma is for --lr-schedule step, not cosine");
  EXPECT_ERROR_CONTAINS((from({"--plateau-patience=3"})),
                        "flag --plateau-patience is for --lr-schedule plateau, not constant");
  EXPECT_ERROR_CONTAINS((from({"--lr-schedule=step", "--lr-steps=3", "--lr-min=0.01"})),
                        "flag --lr-min is for --lr-schedule cosine or plateau, not step");
  from({"--lr-schedule=plateau", "--lr-min=0.01", "--plateau-patience=3"});
  EXPECT_ERROR_CONTAINS(LrSchedule(options(LrScheduleKind::kCosine)), "flag --epochs");
  EXPECT_ERROR_CONTAINS(LrSchedule(options(LrScheduleKind::kConstant)).lr(0, 5, 5),
                        "step 5 of epoch 0 with 5 steps per epoch is out of range");
}

}  // namespace
}  // namespace repflow
