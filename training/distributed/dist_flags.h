#pragma once
// The data-parallel flags every training binary exposes, declared and read in one place.
#include <memory>

#include "framework/flags.h"
#include "training/distributed/communicator.h"
#include "training/distributed/mpi_runtime.h"

namespace repflow {

struct DistOptions {
  bool enabled = false;      // --distributed
  double timeout_s = 300.0;  // --dist-timeout
  double bucket_mb = 25.0;   // --bucket-mb
  bool sync_bn = false;      // --sync-bn
};

// Declares --distributed, --dist-timeout, --bucket-mb and --sync-bn.
void add_dist_flags(Flags& flags);
// Reads them; a non-positive timeout or bucket size, --sync-bn without --distributed, or a
// process that mpirun started as one of several (its environment says so) without
// --distributed, is an Error naming the flag.
DistOptions read_dist_flags(const Flags& flags);

// The device of this process: its machine's GPU number local_rank for a CUDA request (one GPU
// per process; an Error when the machine has fewer GPUs than processes), `requested`
// otherwise.
Device local_device(const DistContext& context, Device requested);

// The communicator for a process whose tensors live on `device`: MPI for the CPU, NCCL for a
// GPU (which must be cuda:local_rank when several processes share a machine; an Error
// otherwise, and in builds without NCCL).
std::unique_ptr<Communicator> make_communicator(const DistContext& context, Device device,
                                                double timeout_s);

}  // namespace repflow
