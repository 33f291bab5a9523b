// ops::sync_batch_norm on 2 processes, each with half of a batch, against batch_norm on the
// whole batch in one process: outputs, input gradients, summed weight and bias gradients and
// running statistics (the comparison runs in tests/mpi_worker --mode bn-check).
#include <gtest/gtest.h>

#include <string>

#include "tests/mpi_launch.h"

namespace repflow {
namespace {

TEST(MpiSyncBatchNormTest, TwoHalvesMatchTheWholeBatch) {
  SKIP_WITHOUT_MPIRUN();
  const testing::TimedResult r = testing::run_workers(2, "--mode bn-check --distributed");
  EXPECT_EQ(r.result.status, 0) << r.result.output;
  EXPECT_NE(r.result.output.find("rank 0: max differences"), std::string::npos) << r.result.output;
  EXPECT_NE(r.result.output.find("rank 1: max differences"), std::string::npos) << r.result.output;
}

}  // namespace
}  // namespace repflow
