// tools/kernel_times.h's summary and table, from records made up here (tracing itself needs a
// GPU: bench_model --kernel-times in tools/gpu_check.sh runs it).
#include "tools/kernel_times.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/test_util.h"

namespace repflow {
namespace {

const std::vector<KernelRecord> kRecords = {
    {"void ns::scale<float, 4>(float const*, int)", 1.0},
    {"sm90_xmma_gemm_bf16", 0.25},
    {"void ns::scale<float, 4>(float const*, int)", 2.0, 3},
    {"void at::native::(anonymous namespace)::fill<(anonymous namespace)::Op>(int)", 0.5},
    {"memcpy HtoD", 4.0},
};

TEST(KernelTimes, SumsByShortNameLongestFirst) {
  const KernelSummary s = summarize_kernels(kRecords);
  ASSERT_EQ(s.kernels.size(), 4u);
  EXPECT_EQ(s.kernels[0].name, "memcpy HtoD");
  EXPECT_EQ(s.kernels[1].name, "ns::scale<float, 4>");
  EXPECT_DOUBLE_EQ(s.kernels[1].ms, 3.0);
  EXPECT_EQ(s.kernels[1].calls, 4);
  EXPECT_EQ(s.kernels[2].name,
            "at::native::(anonymous namespace)::fill<(anonymous namespace)::Op>");
  EXPECT_EQ(s.kernels[3].name, "sm90_xmma_gemm_bf16");
  EXPECT_DOUBLE_EQ(s.busy_ms, 7.75);
  EXPECT_EQ(s.calls, 7);
}

TEST(KernelTimes, TableShowsBusyShareAndTheLongestRows) {
  std::vector<KernelRecord> records = kRecords;
  records.push_back({"void " + std::string(150, 'k') + "(int)", 5.0});
  const std::string table = kernel_table("repflow fp32", summarize_kernels(records), 20.0, 2);
  EXPECT_NE(table.find("repflow fp32: 8 launches, GPU busy 12.75 ms of 20.00 ms wall (64%)"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("   5.000   39.2       1  " + std::string(97, 'k') + "...\n"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("   4.000   31.4       1  memcpy HtoD\n"), std::string::npos) << table;
  EXPECT_EQ(table.find("ns::scale"), std::string::npos) << "more rows than asked for:\n" << table;
}

TEST(KernelTimes, TracingNeedsAGpu) {
  EXPECT_ERROR_CONTAINS(trace_gpu_activity(Device::cpu(), [] {}),
                        "kernel times: traces a GPU's work, not cpu");
}

}  // namespace
}  // namespace repflow
