// framework/cuda_graph.h without a GPU: only a CUDA device's work can be recorded.
#include "framework/cuda_graph.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace repflow {
namespace {

TEST(CudaGraph, RecordingTheCpuIsAnErrorAndRunsNothing) {
  bool ran = false;
  EXPECT_ERROR_CONTAINS(CudaGraph(Device::cpu(), [&] { ran = true; }),
                        "cuda graph: records the work of a CUDA device");
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace repflow
