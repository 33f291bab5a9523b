#include "training/distributed/dist_flags.h"

#include <cstdlib>
#include <string>

#include "framework/device.h"
#include "training/distributed/mpi_communicator.h"
#if REPFLOW_WITH_NCCL
#include "training/distributed/nccl_communicator.h"
#endif

namespace repflow {

namespace {
// A week: longer than any collective should wait, short enough for the clock's deadline.
constexpr double kMaxDistTimeoutSeconds = 7 * 24 * 3600;
// A bucket of 1 TB is beyond any model's gradients, and its byte count still fits size_t.
constexpr double kMaxBucketMb = 1 << 20;

// How many processes the launcher says it started, from the variables Open MPI's and MPICH's
// launchers set (no MPI call: a process without --distributed makes none); 1 when neither.
long launched_processes() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    const char* value = std::getenv(name);
    if (value == nullptr) continue;
    char* end = nullptr;
    const long n = std::strtol(value, &end, 10);
    if (end != value && *end == '\0' && n > 0) return n;
  }
  return 1;
}
}  // namespace

void add_dist_flags(Flags& flags) {
  flags.add("distributed", "false",
            "data-parallel training over the processes mpirun started (MPI on CPU, NCCL on "
            "GPUs, one GPU per process: cuda:<local rank>)");
  flags.add("dist-timeout", "300",
            "seconds a collective may wait for the other ranks before the job is aborted");
  flags.add("bucket-mb", "25", "size of the gradient buckets reduced while backward runs, MB");
  flags.add("sync-bn", "false",
            "batch-norm statistics over the batches of all processes (needs --distributed)");
}

DistOptions read_dist_flags(const Flags& flags) {
  DistOptions o;
  o.enabled = flags.boolean("distributed");
  o.timeout_s = flags.number("dist-timeout");
  o.bucket_mb = flags.number("bucket-mb");
  o.sync_bn = flags.boolean("sync-bn");
  RF_CHECK(o.timeout_s > 0, "flag --dist-timeout: ", o.timeout_s, " is not a positive time");
  // A deadline further off overflows the clock's ticks and reads as already passed.
  RF_CHECK(o.timeout_s <= kMaxDistTimeoutSeconds, "flag --dist-timeout: ", o.timeout_s,
           " is above ", kMaxDistTimeoutSeconds, " s");
  RF_CHECK(o.bucket_mb > 0 && o.bucket_mb <= kMaxBucketMb, "flag --bucket-mb: ", o.bucket_mb,
           " is not a size in (0, ", kMaxBucketMb, "] MB");
  if (!o.enabled)
    flags.refuse_given({"sync-bn", "dist-timeout", "bucket-mb"}, "needs --distributed");
  // Without it, each of mpirun's processes would train alone, into the same run directory.
  const long launched = launched_processes();
  RF_CHECK(o.enabled || launched == 1, "mpirun started ", launched,
           " processes but --distributed was not given: each would train alone (into the same "
           "run directory); pass --distributed to every process");
  return o;
}

Device local_device(const DistContext& context, Device requested) {
  if (!requested.is_cuda()) return requested;
  RF_CHECK(context.local_rank < cuda_device_count(), "distributed: rank ", context.rank,
           " is local rank ", context.local_rank, " of ", context.local_size,
           " on its machine and needs cuda:", context.local_rank, ", but ", cuda_device_count(),
           " GPU(s) are visible there; start at most one process per GPU on each machine");
  return Device::cuda(context.local_rank);
}

std::unique_ptr<Communicator> make_communicator(const DistContext& context, Device device,
                                                double timeout_s) {
  if (!device.is_cuda()) return std::make_unique<MpiCommunicator>(timeout_s);
#if REPFLOW_WITH_NCCL
  RF_CHECK(context.local_size == 1 || device.index == context.local_rank, "distributed: rank ",
           context.rank, " is local rank ", context.local_rank, " of ", context.local_size,
           " on its machine and should drive cuda:", context.local_rank, ", not ", device.str(),
           " (pass --device cuda)");
  return std::make_unique<NcclCommunicator>(std::make_shared<MpiCommunicator>(timeout_s), device);
#else
  (void)context;
  (void)timeout_s;
  RF_FAIL("distributed: ", device.str(), " needs NCCL, which this build lacks");
#endif
}

}  // namespace repflow
