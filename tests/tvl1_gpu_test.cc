// The CUDA schedule of TV-L1 optical flow against the CPU one, on pairs with known shifts, at
// sizes whose levels are and are not multiples of the vector width, several planes a call.
#include <gtest/gtest.h>

#include "ops/flow/tvl1.h"
#include "tests/parity.h"
#include "tests/tvl1_cases.h"

namespace repflow {
namespace {

TEST(Tvl1GpuTest, MatchesCpu) {
  if (testing::skip_without_gpu()) GTEST_SKIP();
  const std::vector<std::pair<double, double>> shifts = {
      {1.0, 0.0}, {-2.5, 1.5}, {6.0, -4.0}, {0.0, 0.0}};
  for (const auto& [h, w] : std::vector<std::pair<int, int>>{{45, 61}, {96, 128}, {224, 224}}) {
    SCOPED_TRACE(std::to_string(h) + " x " + std::to_string(w));
    const Tensor i0 = testing::tvl1_shifted(h, w, std::vector<std::pair<double, double>>(4));
    const Tensor i1 = testing::tvl1_shifted(h, w, shifts);
    const std::vector<float> cpu = ops::tvl1_flow(i0, i1).to_vector();
    const std::vector<float> cuda =
        ops::tvl1_flow(i0.to(Device::cuda(0)), i1.to(Device::cuda(0))).to_vector();
    ASSERT_EQ(cpu.size(), cuda.size());
    // The schedules round differently (nvcc fuses multiply-adds, the CPU's wider sweeps too),
    // and 750 iterations carry the differences on: agreement to a small fraction of a pixel.
    double sum = 0, worst = 0;
    for (size_t k = 0; k < cpu.size(); ++k) {
      const double d = std::abs(cpu[k] - cuda[k]);
      sum += d;
      worst = std::max(worst, d);
    }
    EXPECT_LT(sum / cpu.size(), 1e-3);
    EXPECT_LT(worst, 0.05);
  }
}

}  // namespace
}  // namespace repflow
