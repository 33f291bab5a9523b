#include "training/optim/averaging.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "framework/error.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

// A parameter, a BatchNorm-like statistic and a counter buffer.
class Net : public Module {
 public:
  Net() {
    w = &register_parameter("w", Tensor::from_vector({3}, {1.0f, -2.0f, 0.5f}));
    w->set_requires_grad();
    mean = &register_buffer("bn.running_mean", Tensor::from_vector({2}, {0.0f, 1.0f}));
    count = &register_buffer("bn.num_batches_tracked", Tensor::zeros({}));
  }
  Tensor forward(const Tensor& x) override { return x; }
  Tensor *w, *mean, *count;
};

// The live values at step k (1-based).
std::vector<float> w_at(int k) { return {1.0f * k, -0.5f * k * k, 3.0f - k}; }
std::vector<float> mean_at(int k) { return {0.25f * k, 1.0f / k}; }

void set_live(Net& net, int k) {
  net.w->copy_(Tensor::from_vector({3}, w_at(k)));
  net.mean->copy_(Tensor::from_vector({2}, mean_at(k)));
  net.count->fill_(static_cast<float>(k));
}

// Live values k = first..last, each followed by an update.
void step_through(Net& net, ParameterAverage& avg, int first, int last) {
  for (int k = first; k <= last; ++k) {
    set_live(net, k);
    avg.update();
  }
}

void expect_near(const std::vector<float>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << i;
}

std::map<std::string, Tensor> as_map(const NamedTensors& named) {
  return {named.begin(), named.end()};
}

// Steps 1..steps through the live values, checking the averages against `decay_at`:
// avg_k = d_k * avg_{k-1} + (1 - d_k) * live_k, from avg_0 = the initial values.
template <class DecayAt>
void check_against(const AveragingOptions& options, int steps, DecayAt decay_at) {
  Net net;
  std::vector<double> w(3), mean(2);
  for (int i = 0; i < 3; ++i) w[i] = net.w->to_vector()[i];
  for (int i = 0; i < 2; ++i) mean[i] = net.mean->to_vector()[i];
  ParameterAverage avg(net, options);
  for (int k = 1; k <= steps; ++k) {
    set_live(net, k);
    avg.update();
    const double d = decay_at(k);
    for (int i = 0; i < 3; ++i) w[i] = d * w[i] + (1 - d) * w_at(k)[i];
    for (int i = 0; i < 2; ++i) mean[i] = d * mean[i] + (1 - d) * mean_at(k)[i];
  }
  EXPECT_EQ(avg.updates(), steps);
  const auto state = as_map(avg.state());
  expect_near(state.at("average.w").to_vector(), w);
  expect_near(state.at("average.bn.running_mean").to_vector(), mean);
  EXPECT_EQ(state.at("average.bn.num_batches_tracked").item(), static_cast<float>(steps));
}

TEST(Averaging, EmaFollowsItsRecurrence) {
  AveragingOptions o;
  o.kind = AveragingKind::kEma;
  o.decay = 0.9;
  check_against(o, 6, [](int) { return 0.9; });
}

TEST(Averaging, EmaWarmupUsesTheSmallerDecayEarly) {
  AveragingOptions o;
  o.kind = AveragingKind::kEma;
  o.decay = 0.5;
  o.ema_warmup = true;
  // (1 + n) / (10 + n) with n = k - 1 updates before: 0.1, 0.18.., ... passes 0.5 at n = 8.
  check_against(o, 12, [](int k) { return std::min(0.5, k / (9.0 + k)); });
}

TEST(Averaging, PolyakIsTheMeanFromTheStartStep) {
  AveragingOptions o;
  o.kind = AveragingKind::kPolyak;
  o.polyak_start = 3;
  Net net;
  ParameterAverage avg(net, o);
  step_through(net, avg, 1, 6);
  std::vector<double> w(3, 0.0), mean(2, 0.0);
  for (int k = 3; k <= 6; ++k) {
    for (int i = 0; i < 3; ++i) w[i] += w_at(k)[i] / 4.0;
    for (int i = 0; i < 2; ++i) mean[i] += mean_at(k)[i] / 4.0;
  }
  const auto state = as_map(avg.state());
  expect_near(state.at("average.w").to_vector(), w);
  expect_near(state.at("average.bn.running_mean").to_vector(), mean);
}

TEST(Averaging, PolyakBeforeItsStartTracksTheLiveValues) {
  AveragingOptions o;
  o.kind = AveragingKind::kPolyak;
  o.polyak_start = 5;
  Net net;
  ParameterAverage avg(net, o);
  set_live(net, 2);
  avg.update();
  EXPECT_EQ(as_map(avg.state()).at("average.w").to_vector(), w_at(2));
}

TEST(Averaging, ApplySwapsInTheAveragesAndRestoreGivesBackTheLiveValuesExactly) {
  AveragingOptions o;
  o.kind = AveragingKind::kEma;
  o.decay = 0.7;
  Net net;
  ParameterAverage avg(net, o);
  step_through(net, avg, 1, 3);
  const auto live_w = net.w->to_vector();
  const auto live_mean = net.mean->to_vector();
  const auto state = as_map(avg.state());
  {
    AveragedWeightsScope scope(avg);
    EXPECT_TRUE(avg.applied());
    EXPECT_EQ(net.w->to_vector(), state.at("average.w").to_vector());
    EXPECT_EQ(net.mean->to_vector(), state.at("average.bn.running_mean").to_vector());
    EXPECT_NE(net.w->to_vector(), live_w);
    EXPECT_ERROR_CONTAINS(avg.update(), "update() while the averages are applied");
    EXPECT_ERROR_CONTAINS(avg.apply(), "apply() while already applied");
  }
  EXPECT_FALSE(avg.applied());
  EXPECT_EQ(net.w->to_vector(), live_w);
  EXPECT_EQ(net.mean->to_vector(), live_mean);
  EXPECT_TRUE(net.w->requires_grad());
  EXPECT_ERROR_CONTAINS(avg.restore(), "restore() without apply()");
}

TEST(Averaging, StateRoundTripGivesIdenticalUpdates) {
  AveragingOptions o;
  o.kind = AveragingKind::kEma;
  o.decay = 0.8;
  o.ema_warmup = true;
  Net a, b;
  ParameterAverage avg_a(a, o);
  step_through(a, avg_a, 1, 4);
  ParameterAverage avg_b(b, o);
  avg_b.load_state(as_map(avg_a.state()), avg_a.updates());
  for (int k = 5; k <= 7; ++k) {
    set_live(a, k);
    set_live(b, k);
    avg_a.update();
    avg_b.update();
  }
  EXPECT_EQ(avg_b.updates(), 7);
  const auto sa = avg_a.state(), sb = avg_b.state();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].second.to_vector(), sb[i].second.to_vector()) << sa[i].first;
  }
}

TEST(Averaging, LoadStateNamesWhatIsWrong) {
  Net net;
  ParameterAverage avg(net, {});
  auto state = as_map(avg.state());
  state.erase("average.w");
  EXPECT_ERROR_CONTAINS(avg.load_state(state, 0), "'average.w' is missing");
  state["average.w"] = Tensor::zeros({4});
  EXPECT_ERROR_CONTAINS(avg.load_state(state, 0), "'average.w' has shape [4]");
  state["average.w"] = Tensor::zeros({3});
  state["average.v"] = Tensor::zeros({3});
  EXPECT_ERROR_CONTAINS(avg.load_state(state, 0), "'average.v' is not average.<name>");
  state.erase("average.v");
  EXPECT_ERROR_CONTAINS(avg.load_state(state, -1), "update count -1 is negative");
}

TEST(Averaging, FlagsParseAndErrorsNameTheFlag) {
  Flags flags("train", "test");
  add_averaging_flags(flags);
  ASSERT_TRUE(parse_args(flags, {"--average=ema", "--ema-decay=0.99", "--ema-warmup"}));
  const auto o = averaging_from_flags(flags);
  EXPECT_EQ(o.kind, AveragingKind::kEma);
  EXPECT_EQ(o.decay, 0.99);
  EXPECT_TRUE(o.ema_warmup);
  const auto from = [](std::vector<std::string> args) {
    Flags f("train", "test");
    add_averaging_flags(f);
    parse_args(f, std::move(args));
    averaging_from_flags(f);
  };
  EXPECT_ERROR_CONTAINS(from({"--average=swa"}), "flag --average: 'swa'");
  EXPECT_ERROR_CONTAINS(from({"--average=ema", "--ema-decay=1"}), "flag --ema-decay: 1");
  EXPECT_ERROR_CONTAINS(from({"--average=polyak", "--polyak-start=0"}), "flag --polyak-start: 0");
  // Another kind's settings.
  EXPECT_ERROR_CONTAINS(from({"--ema-decay=0.5"}),
                        "flag --ema-decay is for --average ema, not none");
  EXPECT_ERROR_CONTAINS(from({"--average=polyak", "--ema-warmup"}),
                        "flag --ema-warmup is for --average ema, not polyak");
  EXPECT_ERROR_CONTAINS(from({"--average=ema", "--polyak-start=5"}),
                        "flag --polyak-start is for --average polyak, not ema");
}

// update() in its two halves, as a step recorded as a CUDA graph runs it: next_rate() counts
// the update on the host, update(rate) averages at the rate a tensor holds. The same bits.
TEST(Averaging, TheRateInATensorAveragesLikeUpdate) {
  AveragingOptions ema;
  ema.kind = AveragingKind::kEma;
  ema.decay = 0.5;
  ema.ema_warmup = true;
  AveragingOptions polyak;
  polyak.kind = AveragingKind::kPolyak;
  polyak.polyak_start = 3;
  for (const AveragingOptions& o : {ema, polyak}) {
    Net a, b;
    ParameterAverage avg_a(a, o), avg_b(b, o);
    Tensor rate = Tensor::empty({1});
    for (int k = 1; k <= 12; ++k) {
      set_live(a, k);
      set_live(b, k);
      avg_a.update();
      rate.fill_(static_cast<float>(avg_b.next_rate()));
      avg_b.update(rate);
    }
    EXPECT_EQ(avg_b.updates(), avg_a.updates());
    const auto sa = as_map(avg_a.state()), sb = as_map(avg_b.state());
    for (const auto& [name, t] : sa) EXPECT_EQ(t.to_vector(), sb.at(name).to_vector()) << name;
  }
}

}  // namespace
}  // namespace repflow
