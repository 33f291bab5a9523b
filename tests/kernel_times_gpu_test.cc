// tools/kernel_times.h on a GPU: CUPTI's records of what the device ran while traced, and only
// that.
#include <gtest/gtest.h>

#include <algorithm>

#include "ops/elementwise/elementwise.h"
#include "tests/parity.h"
#include "tools/kernel_times.h"

namespace repflow {
namespace {

using testing::skip_without_gpu;

TEST(KernelTimesGpu, TracesTheWorksKernelsAndCopies) {
  if (skip_without_gpu()) GTEST_SKIP();
  const Device gpu = Device::cuda(0);
  const Tensor a = Tensor::full({1 << 20}, 2.0f, gpu);
  ops::mul(a, a);  // before tracing: not in the records
  const std::vector<KernelRecord> records = trace_gpu_activity(gpu, [&] {
    for (int i = 0; i < 3; ++i) ops::add(a, a);
    Tensor::from_vector({4}, {1, 2, 3, 4}).to(gpu);
  });
  const KernelSummary s = summarize_kernels(records);
  EXPECT_GE(s.calls, 4);
  EXPECT_GT(s.busy_ms, 0.0);
  const auto named = [&](const std::string& part) {
    return std::count_if(s.kernels.begin(), s.kernels.end(), [&](const KernelRecord& k) {
      return k.name.find(part) != std::string::npos;
    });
  };
  EXPECT_EQ(named("memcpy HtoD"), 1) << kernel_table("traced", s, s.busy_ms, 20);
  int64_t launches = 0;
  for (const KernelRecord& k : s.kernels)
    if (k.name.find("memcpy") == std::string::npos) launches += k.calls;
  EXPECT_EQ(launches, 3) << kernel_table("traced", s, s.busy_ms, 20);
}

}  // namespace
}  // namespace repflow
