// The evaluator fed CUDA logits (leaves that require grad) gives the CPU's numbers.
#include <gtest/gtest.h>

#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "training/report/evaluation.h"

namespace repflow {
namespace {

using testing::random_leaf;
using testing::skip_without_gpu;

TEST(EvaluationGpu, CudaLogitsGiveTheCpuResult) {
  if (skip_without_gpu()) GTEST_SKIP();
  Evaluator cpu(11), cuda(11);
  for (int batch = 0; batch < 3; ++batch) {
    const Tensor logits = random_leaf({16, 11}, 10 + batch, -3.0f, 3.0f);
    std::vector<int64_t> labels, videos;
    for (int i = 0; i < 16; ++i) {
      videos.push_back((batch * 16 + i) / 4);
      labels.push_back(videos.back() % 11);
    }
    cpu.add(logits, labels, videos);
    cuda.add(logits.to(Device::cuda(0)), labels, videos);
  }
  EXPECT_EQ(cpu.result().to_json(), cuda.result().to_json());
}

}  // namespace
}  // namespace repflow
