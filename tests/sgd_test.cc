#include "training/optim/sgd.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "framework/weights.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

// Names like a model's: a conv weight and bias, and a flow layer's scalar.
class TinyNet : public Module {
 public:
  TinyNet() {
    register_parameter("conv.weight", Tensor::from_vector({2, 2}, {0.5f, -1.0f, 2.0f, 0.25f}))
        .set_requires_grad();
    register_parameter("conv.bias", Tensor::from_vector({2}, {0.1f, -0.2f})).set_requires_grad();
    register_parameter("flow.theta", Tensor::from_vector({1}, {0.3f})).set_requires_grad();
  }
  Tensor forward(const Tensor& x) override { return x; }
};

// The gradient of parameter `i` at step `k`: varied in sign and size, independent of the
// parameters so the test's reference does not need a model.
std::vector<float> grad_at(size_t i, int k, int64_t n) {
  std::vector<float> g(n);
  for (int64_t j = 0; j < n; ++j) {
    g[j] = std::sin(1.0f + 0.7f * k + 1.3f * static_cast<float>(j) + 2.1f * static_cast<float>(i));
  }
  return g;
}

void set_grads(const NamedTensors& params, int k) {
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor p = params[i].second;
    p.set_grad(Tensor::from_vector(p.shape(), grad_at(i, k, p.numel())));
  }
}

struct Rule {
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
};

// torch.optim.SGD's update written out per element, in double.
std::vector<std::vector<double>> reference(const NamedTensors& params, const Rule& r, int steps) {
  std::vector<std::vector<double>> p, buf(params.size());
  for (const auto& [name, t] : params) {
    const auto v = t.to_vector();
    p.emplace_back(v.begin(), v.end());
  }
  for (int k = 0; k < steps; ++k) {
    for (size_t i = 0; i < p.size(); ++i) {
      const auto g = grad_at(i, k, static_cast<int64_t>(p[i].size()));
      if (k == 0) buf[i].assign(p[i].size(), 0.0);
      for (size_t j = 0; j < p[i].size(); ++j) {
        double d = g[j] + r.weight_decay * p[i][j];
        buf[i][j] = k == 0 ? d : r.momentum * buf[i][j] + (1 - r.dampening) * d;
        const double step = r.nesterov ? d + r.momentum * buf[i][j] : buf[i][j];
        p[i][j] -= r.lr * step;
      }
    }
  }
  return p;
}

void expect_matches(const NamedTensors& params, const std::vector<std::vector<double>>& want) {
  for (size_t i = 0; i < params.size(); ++i) {
    const auto got = params[i].second.to_vector();
    for (size_t j = 0; j < got.size(); ++j) {
      EXPECT_NEAR(got[j], want[i][j], 1e-5) << params[i].first << "[" << j << "]";
    }
  }
}

void check_rule(const Rule& r) {
  TinyNet net;
  const auto params = net.named_parameters();
  const auto want = reference(params, r, 5);
  Sgd sgd(make_param_groups(params, {}, r.weight_decay), {r.momentum, r.dampening, r.nesterov});
  for (int k = 0; k < 5; ++k) {
    set_grads(params, k);
    sgd.step(r.lr);
  }
  expect_matches(params, want);
}

TEST(Sgd, PlainMomentumDampeningAndWeightDecayFollowTheUpdateRule) {
  check_rule({0.1, 0.0, 0.0, 0.0, false});
  check_rule({0.1, 0.9, 0.0, 0.0, false});
  check_rule({0.05, 0.9, 0.3, 0.01, false});
}

TEST(Sgd, NesterovFollowsTheUpdateRule) { check_rule({0.1, 0.9, 0.0, 0.001, true}); }

TEST(Sgd, NesterovNeedsMomentumWithoutDampening) {
  TinyNet net;
  const auto groups = make_param_groups(net.named_parameters(), {}, 0.0);
  EXPECT_ERROR_CONTAINS(Sgd(groups, {0.0, 0.0, true}), "Nesterov momentum needs momentum > 0");
  EXPECT_ERROR_CONTAINS(Sgd(groups, {0.9, 0.1, true}), "dampening 0.1");
}

TEST(Sgd, GroupRulesPlaceEveryParameterOnceAndScaleItsLearningRate) {
  TinyNet net;
  const auto params = net.named_parameters();
  // Both rules match conv.bias; the first one listed takes it.
  const auto groups =
      make_param_groups(params, {{"flow", 0.01, 0.0}, {"bias", 2.0, {}}, {"conv", 0.5, {}}}, 0.1);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].name, "flow");
  EXPECT_EQ(groups[0].weight_decay, 0.0);
  EXPECT_EQ(groups[1].params.at(0).first, "conv.bias");
  EXPECT_EQ(groups[1].weight_decay, 0.1);
  EXPECT_EQ(groups[2].params.at(0).first, "conv.weight");
  Sgd sgd(groups, {});
  std::vector<std::vector<float>> old;
  for (const auto& [name, p] : params) old.push_back(p.to_vector());
  set_grads(params, 0);
  sgd.step(1.0);
  const double mult[] = {0.5, 2.0, 0.01};  // conv.weight, conv.bias, flow.theta
  for (size_t i = 0; i < params.size(); ++i) {
    const auto now = params[i].second.to_vector();
    const auto g = grad_at(i, 0, params[i].second.numel());
    const double wd = i == 2 ? 0.0 : 0.1;
    for (size_t j = 0; j < now.size(); ++j) {
      EXPECT_NEAR(now[j], old[i][j] - mult[i] * (g[j] + wd * old[i][j]), 1e-6) << params[i].first;
    }
  }
}

TEST(Sgd, NoDecay1dSplitsGroupsAndDefaultCatchesTheRest) {
  TinyNet net;
  const auto groups = make_param_groups(net.named_parameters(), {{"flow", 0.01, {}}}, 0.1, true);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].name, "flow.no_decay");
  EXPECT_EQ(groups[0].lr_mult, 0.01);
  EXPECT_EQ(groups[0].weight_decay, 0.0);
  EXPECT_EQ(groups[1].name, "default");
  EXPECT_EQ(groups[1].params.at(0).first, "conv.weight");
  EXPECT_EQ(groups[1].weight_decay, 0.1);
  EXPECT_EQ(groups[2].name, "default.no_decay");
  EXPECT_EQ(groups[2].params.at(0).first, "conv.bias");
  EXPECT_ERROR_CONTAINS(make_param_groups(net.named_parameters(), {{"flw", 0.01, {}}}, 0.1),
                        "rule 'flw' matches no parameter");
  EXPECT_ERROR_CONTAINS(Sgd({groups[1], groups[1]}, {}),
                        "'conv.weight' is listed in more than one group");
}

TEST(Sgd, ParsesGroupRulesFromFlagText) {
  const auto rules = parse_group_rules("flow:0.01,fc:10:0", "lr-mult");
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].pattern, "flow");
  EXPECT_EQ(rules[0].lr_mult, 0.01);
  EXPECT_FALSE(rules[0].weight_decay.has_value());
  EXPECT_EQ(rules[1].lr_mult, 10.0);
  EXPECT_EQ(rules[1].weight_decay.value(), 0.0);
  EXPECT_TRUE(parse_group_rules("", "lr-mult").empty());
  EXPECT_ERROR_CONTAINS(parse_group_rules("flow", "lr-mult"),
                        "flag --lr-mult: 'flow' is not pattern:lr_mult[:weight_decay]");
  EXPECT_ERROR_CONTAINS(parse_group_rules("flow:x", "lr-mult"), "flag --lr-mult: 'x' in 'flow:x'");
  EXPECT_ERROR_CONTAINS(parse_group_rules("flow:-1", "lr-mult"), "is negative");
  EXPECT_ERROR_CONTAINS(parse_group_rules("flow:1,", "lr-mult"), "ends with a comma");
}

TEST(Sgd, ClippingScalesToTheMaxNormAndReturnsTheNormBefore) {
  TinyNet net;
  const auto params = net.named_parameters();
  Sgd sgd(make_param_groups(params, {}, 0.0), {});
  set_grads(params, 0);
  double squares = 0;
  std::vector<std::vector<float>> before;
  for (const auto& [name, p] : params) {
    before.push_back(p.grad().to_vector());
    for (float g : before.back()) squares += static_cast<double>(g) * g;
  }
  const double norm = std::sqrt(squares);
  EXPECT_NEAR(sgd.clip_grad_norm(2 * norm), norm, 1e-5);  // below the limit: untouched
  EXPECT_EQ(params[0].second.grad().to_vector(), before[0]);
  EXPECT_NEAR(sgd.clip_grad_norm(0.5), norm, 1e-5);
  double after = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const auto g = params[i].second.grad().to_vector();
    for (size_t j = 0; j < g.size(); ++j) {
      EXPECT_NEAR(g[j], before[i][j] * 0.5 / norm, 1e-6);  // the direction is kept
      after += static_cast<double>(g[j]) * g[j];
    }
  }
  EXPECT_NEAR(std::sqrt(after), 0.5, 1e-5);
}

TEST(Sgd, ZeroGradDropsGradientsAndStepSkipsParametersWithout) {
  TinyNet net;
  const auto params = net.named_parameters();
  Sgd sgd(make_param_groups(params, {}, 0.1), {0.9, 0.0, false});
  set_grads(params, 0);
  sgd.zero_grad();
  for (const auto& [name, p] : params) EXPECT_FALSE(p.grad().defined()) << name;
  const auto before = params[0].second.to_vector();
  sgd.step(0.1);
  EXPECT_EQ(params[0].second.to_vector(), before);
  EXPECT_TRUE(sgd.state().empty());
  EXPECT_EQ(sgd.clip_grad_norm(1.0), 0.0);
}

TEST(Sgd, StateRoundTripsThroughAWeightFileAndGivesIdenticalSteps) {
  TinyNet a, b;
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  const SgdOptions options{0.9, 0.1, false};
  Sgd sa(make_param_groups(pa, {{"flow", 0.01, {}}}, 0.01), options);
  for (int k = 0; k < 3; ++k) {
    set_grads(pa, k);
    sa.step(0.1);
  }
  const auto state = sa.state();
  ASSERT_EQ(state.size(), 3u);
  EXPECT_EQ(state[0].first, "momentum.flow.theta");  // in group order
  const std::string path = test_tmp("sgd_state.json");
  save_weights(path, state);
  for (size_t i = 0; i < pa.size(); ++i) Tensor(pb[i].second).copy_(pa[i].second);
  Sgd sb(make_param_groups(pb, {{"flow", 0.01, {}}}, 0.01), options);
  sb.load_state(load_weights(path));
  for (int k = 3; k < 6; ++k) {
    set_grads(pa, k);
    set_grads(pb, k);
    sa.step(0.05);
    sb.step(0.05);
  }
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].second.to_vector(), pb[i].second.to_vector()) << pa[i].first;
  }
}

TEST(Sgd, LoadStateNamesWhatIsWrong) {
  TinyNet net;
  const auto params = net.named_parameters();
  Sgd sgd(make_param_groups(params, {}, 0.0), {0.9, 0.0, false});
  EXPECT_ERROR_CONTAINS(sgd.load_state({{"momentum.conv.wieght", Tensor::zeros({2, 2})}}),
                        "'momentum.conv.wieght' is not momentum.<name> of a parameter");
  EXPECT_ERROR_CONTAINS(sgd.load_state({{"momentum.conv.bias", Tensor::zeros({3})}}),
                        "'momentum.conv.bias' has shape [3], the parameter has [2]");
  Sgd plain(make_param_groups(params, {}, 0.0), {});
  EXPECT_ERROR_CONTAINS(plain.load_state({{"momentum.conv.bias", Tensor::zeros({2})}}),
                        "optimiser without momentum");
}

// The learning rate in a one-element tensor on the parameters' device (read there by a step
// recorded as a CUDA graph): each group's multiplier times that value. A multiplier of 1 gives
// the number's bits exactly; others may round the product one unit differently (float against
// double), so within 1e-6.
TEST(Sgd, ALearningRateInATensorStepsLikeTheNumber) {
  TinyNet a, b;
  const std::vector<GroupRule> rules = {{"flow", 0.01, std::nullopt}};
  Sgd sa(make_param_groups(a.named_parameters(), rules, 1e-3, true), {0.9, 0.0, true});
  Sgd sb(make_param_groups(b.named_parameters(), rules, 1e-3, true), {0.9, 0.0, true});
  Tensor lr = Tensor::empty({1});
  for (int k = 1; k <= 3; ++k) {
    set_grads(a.named_parameters(), k);
    set_grads(b.named_parameters(), k);
    sa.step(0.05 * k);
    lr.fill_(static_cast<float>(0.05 * k));
    sb.step(lr);
  }
  const NamedTensors pa = a.named_parameters(), pb = b.named_parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    SCOPED_TRACE(pa[i].first);
    const std::vector<float> va = pa[i].second.to_vector(), vb = pb[i].second.to_vector();
    if (pa[i].first.find("flow") == std::string::npos) {
      EXPECT_EQ(va, vb);
    } else {
      for (size_t j = 0; j < va.size(); ++j) EXPECT_NEAR(va[j], vb[j], 1e-6 * std::abs(va[j]));
    }
  }
  EXPECT_ERROR_CONTAINS(sb.step(Tensor::empty({2})), "the learning rate is a tensor of shape [2]");
}

}  // namespace
}  // namespace repflow
