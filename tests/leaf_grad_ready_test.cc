// The autograd engine's leaf-gradient-ready hook (framework/autograd.h), which data-parallel
// training uses to start reducing gradients while backward still runs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "framework/autograd.h"
#include "ops/elementwise/elementwise.h"
#include "ops/reduce/reduce.h"

namespace repflow {
namespace {

// Passes g through unchanged, logging when its backward runs.
Tensor probe(const Tensor& x, std::vector<std::string>* log) {
  return record("probe", x.detach().clone(), {x}, [log](const Tensor& g, const GradMask&) {
    log->push_back("probe");
    return std::vector<Tensor>{g};
  });
}

TEST(LeafGradReady, EachLeafOnceWithItsFinalGradient) {
  Tensor x = Tensor::from_vector({2}, {3, -1}).set_requires_grad();
  Tensor y = Tensor::from_vector({2}, {2, 5}).set_requires_grad();
  std::vector<std::vector<float>> seen_x, seen_y;
  {
    LeafGradReadyHook hook([&](const Tensor& leaf) {
      (leaf.is_same(x) ? seen_x : seen_y).push_back(leaf.grad().to_vector());
    });
    // x along several paths, so that its gradient is summed from several nodes.
    ops::sum(x * x + x * x * x + x * y).backward();
  }
  ASSERT_EQ(seen_x.size(), 1u);
  ASSERT_EQ(seen_y.size(), 1u);
  EXPECT_EQ(seen_x[0], x.grad().to_vector());
  EXPECT_EQ(seen_y[0], y.grad().to_vector());
  // Independently: d/dx = 2x + 3x^2 + y, d/dy = x.
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{6 + 27 + 2, -2 + 3 + 5}));
  EXPECT_EQ(y.grad().to_vector(), (std::vector<float>{3, -1}));
}

TEST(LeafGradReady, ReportedDuringThePassAsSoonAsFinal) {
  Tensor first = Tensor::from_vector({2}, {1, 2}).set_requires_grad();
  Tensor last = Tensor::from_vector({2}, {3, 4}).set_requires_grad();
  std::vector<std::string> log;
  LeafGradReadyHook hook(
      [&](const Tensor& leaf) { log.push_back(leaf.is_same(first) ? "first" : "last"); });
  // `last` is used by the final op, so its gradient is final before the probe's backward runs;
  // `first` only after it.
  ops::sum(probe(first * 2.0f, &log) * last).backward();
  EXPECT_EQ(log, (std::vector<std::string>{"last", "probe", "first"}));
}

TEST(LeafGradReady, LeafThatNoGradientReachesIsReportedAtTheEnd) {
  Tensor x = Tensor::from_vector({2}, {1, 2}).set_requires_grad();
  Tensor cut = Tensor::from_vector({2}, {3, 4}).set_requires_grad();
  const Tensor w = cut * 2.0f;
  const Tensor blocked =
      record("block", w.detach().clone(), {w},
             [](const Tensor&, const GradMask&) { return std::vector<Tensor>{Tensor()}; });
  std::vector<std::string> log;
  std::vector<bool> cut_grad_defined;
  LeafGradReadyHook hook([&](const Tensor& leaf) {
    log.push_back(leaf.is_same(x) ? "x" : "cut");
    if (leaf.is_same(cut)) cut_grad_defined.push_back(leaf.grad().defined());
  });
  ops::sum(blocked * x).backward();
  EXPECT_EQ(log, (std::vector<std::string>{"x", "cut"}));
  EXPECT_EQ(cut_grad_defined, (std::vector<bool>{false}));
}

TEST(LeafGradReady, RootLeafAndScopes) {
  Tensor x = Tensor::from_vector({1}, {2}).set_requires_grad();
  int outer = 0, inner = 0;
  {
    LeafGradReadyHook outer_hook([&](const Tensor&) { ++outer; });
    {
      LeafGradReadyHook inner_hook([&](const Tensor&) { ++inner; });
      x.backward();
    }
    x.backward();
  }
  x.backward();
  EXPECT_EQ(inner, 1);
  EXPECT_EQ(outer, 1);
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{3}));
}

}  // namespace
}  // namespace repflow
