// One rank failing must end the whole job with an error, never leave the others waiting: a
// rank that throws (a bad file), one killed by SIGKILL, and one that hangs (the others' collective
// deadline names it).
#include <gtest/gtest.h>

#include <string>

#include "tests/mpi_launch.h"

namespace repflow {
namespace {

// Rank 1 fails at step 1 while rank 0 goes on into the step's collectives.
testing::TimedResult fail_rank_1(const std::string& failure, int timeout_s) {
  return testing::run_workers(2,
                              "--distributed --steps 3 --fail-rank 1 --fail-step 1 --failure " +
                                  failure + " --dist-timeout " + std::to_string(timeout_s) +
                                  " --out " + test_tmp("failure"),
                              90);
}

// The job failed, and ended itself well before the test's limit.
void expect_ended_with_failure(const testing::TimedResult& r) {
  EXPECT_NE(r.result.status, 0) << r.result.output;
  EXPECT_NE(r.result.status, 124) << "timed out:\n" << r.result.output;
  EXPECT_LT(r.seconds, 60);
}

void expect_contains(const testing::TimedResult& r, const std::string& fragment) {
  EXPECT_NE(r.result.output.find(fragment), std::string::npos)
      << "missing '" << fragment << "' in:\n"
      << r.result.output;
}

TEST(MpiFailureTest, ARankThatThrowsEndsTheJob) {
  SKIP_WITHOUT_MPIRUN();
  // A timeout far beyond the limit: only the abort can end rank 0's wait in time.
  const testing::TimedResult r = fail_rank_1("throw", 600);
  expect_ended_with_failure(r);
  expect_contains(r, "repflow_mpi_test.weights");
  expect_contains(r, "error: rank 1 of 2 failed (exit code 2); aborting the job");
}

TEST(MpiFailureTest, AKilledRankEndsTheJob) {
  SKIP_WITHOUT_MPIRUN();
  const testing::TimedResult r = fail_rank_1("kill", 600);
  expect_ended_with_failure(r);
  expect_contains(r, "signal 9");
}

TEST(MpiFailureTest, AHungRankIsNamedAtTheDeadline) {
  SKIP_WITHOUT_MPIRUN();
  const testing::TimedResult r = fail_rank_1("hang", 2);
  expect_ended_with_failure(r);
  expect_contains(r, "did not complete within 2 s on rank 0 of 2; rank(s) 1 never reached it");
}

}  // namespace
}  // namespace repflow
