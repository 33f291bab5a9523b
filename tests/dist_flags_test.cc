// The distributed flags and the choice of a process's device.
#include "training/distributed/dist_flags.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "framework/device.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

DistOptions read(std::vector<std::string> args) {
  Flags flags("t", "test");
  add_dist_flags(flags);
  EXPECT_TRUE(parse_args(flags, std::move(args)));
  return read_dist_flags(flags);
}

TEST(DistFlags, DefaultsAndValues) {
  const DistOptions off = read({});
  EXPECT_FALSE(off.enabled);
  EXPECT_FALSE(off.sync_bn);
  const DistOptions on =
      read({"--distributed", "--sync-bn", "--dist-timeout", "12", "--bucket-mb", "0.5"});
  EXPECT_TRUE(on.enabled);
  EXPECT_TRUE(on.sync_bn);
  EXPECT_DOUBLE_EQ(on.timeout_s, 12.0);
  EXPECT_DOUBLE_EQ(on.bucket_mb, 0.5);
}

TEST(DistFlags, BadValuesNameTheFlag) {
  EXPECT_ERROR_CONTAINS(read({"--sync-bn"}), "--sync-bn needs --distributed");
  EXPECT_ERROR_CONTAINS(read({"--distributed", "--dist-timeout", "0"}), "--dist-timeout");
  EXPECT_ERROR_CONTAINS(read({"--distributed", "--bucket-mb", "-1"}), "--bucket-mb");
  EXPECT_ERROR_CONTAINS(read({"--distributed", "--bucket-mb", "1e30"}),
                        "flag --bucket-mb: 1e+30 is not a size in (0, 1.04858e+06] MB");
  // Without --distributed they would be ignored.
  EXPECT_ERROR_CONTAINS(read({"--bucket-mb", "4"}), "flag --bucket-mb needs --distributed");
  EXPECT_ERROR_CONTAINS(read({"--dist-timeout", "4"}), "flag --dist-timeout needs --distributed");
}

// mpirun's processes without --distributed would each train alone into one run directory: the
// launcher's variables give them away, Open MPI's and MPICH's.
TEST(DistFlags, ProcessesMpirunStartedNeedDistributed) {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    SCOPED_TRACE(variable);
    ::setenv(variable, "2", 1);
    EXPECT_ERROR_CONTAINS(read({}), "mpirun started 2 processes but --distributed was not given");
    EXPECT_TRUE(read({"--distributed"}).enabled);
    ::setenv(variable, "1", 1);
    EXPECT_FALSE(read({}).enabled);
    ::unsetenv(variable);
  }
}

TEST(LocalDevice, OneGpuPerProcess) {
  DistContext context;
  context.rank = 3;
  context.world_size = 4;
  context.local_size = 2;
  context.local_rank = 1;
  EXPECT_EQ(local_device(context, Device::cpu()), Device::cpu());
  // A local rank past the machine's GPUs (every rank on a machine without one).
  context.local_rank = cuda_device_count();
  EXPECT_ERROR_CONTAINS(local_device(context, Device::cuda(0)),
                        "GPU(s) are visible there; start at most one process per GPU");
  if (cuda_device_count() > 0) {
    context.local_rank = cuda_device_count() - 1;
    EXPECT_EQ(local_device(context, Device::cuda(0)), Device::cuda(cuda_device_count() - 1));
  }
}

}  // namespace
}  // namespace repflow
