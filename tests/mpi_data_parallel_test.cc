// Two processes with a local batch of B each must train like one process with the batch 2B:
// the same weights after a few SGD steps (broadcast at start, bucketed gradient averaging) and
// the same loss through the metric reduction, with and without --sync-bn.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "framework/weights.h"
#include "tests/mpi_launch.h"

namespace repflow {
namespace {

using testing::run_workers;

std::map<std::string, Tensor> run_and_load(int np, const std::string& args, const std::string& out,
                                           int rank, std::string* output) {
  const testing::TimedResult r = run_workers(np, args + " --out " + out);
  EXPECT_EQ(r.result.status, 0) << r.result.output;
  *output += r.result.output;
  return load_weights(out + ".rank" + std::to_string(rank));
}

void expect_same_state(const std::map<std::string, Tensor>& a,
                       const std::map<std::string, Tensor>& b, float tol) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, ta] : a) {
    SCOPED_TRACE(name);
    ASSERT_EQ(b.count(name), 1u);
    const std::vector<float> va = ta.to_vector(), vb = b.at(name).to_vector();
    ASSERT_EQ(va.size(), vb.size());
    for (size_t i = 0; i < va.size(); ++i)
      ASSERT_NEAR(va[i], vb[i], tol * (1.0f + std::fabs(vb[i]))) << "element " << i;
  }
}

// The last "last_loss=" value the output prints.
double last_loss(const std::string& output) {
  const size_t at = output.rfind("last_loss=");
  return at == std::string::npos ? NAN : std::stod(output.substr(at + 10));
}

void compare_with_one_process(const std::string& flags, const std::string& name) {
  const std::string dir = test_tmp(name);
  std::string two_output, one_output, unused;
  const auto rank0 = run_and_load(2, "--distributed " + flags, dir + "_two", 0, &two_output);
  const auto rank1 = load_weights(dir + "_two.rank1");
  const auto one = run_and_load(0, "--distributed " + flags, dir + "_one", 0, &one_output);
  // The replicas stay identical: every rank applies the same averaged gradients.
  expect_same_state(rank0, rank1, 0.0f);
  expect_same_state(rank0, one, 2e-5f);
  EXPECT_NEAR(last_loss(two_output), last_loss(one_output), 1e-5) << two_output << one_output;
  EXPECT_NE(two_output.find("samples=8"), std::string::npos) << two_output;
}

TEST(MpiDataParallelTest, TwoProcessesMatchOneWithTheWholeBatch) {
  SKIP_WITHOUT_MPIRUN();
  // 1 KB buckets: the model's gradients span two buckets, so bucket ordering is exercised.
  compare_with_one_process("--global-batch 8 --steps 4 --bucket-mb 0.001", "plain");
  std::string output;
  run_and_load(2, "--distributed --global-batch 8 --steps 1 --bucket-mb 0.001", test_tmp("buckets"),
               0, &output);
  EXPECT_NE(output.find("buckets=2"), std::string::npos) << output;
}

TEST(MpiDataParallelTest, SyncBatchNormMatchesOneProcess) {
  SKIP_WITHOUT_MPIRUN();
  compare_with_one_process("--sync-bn --global-batch 8 --steps 4", "sync_bn");
}

}  // namespace
}  // namespace repflow
