#pragma once
// Collectives over NCCL on CUDA tensors, one GPU per process. NCCL runs on a stream of its own
// so that gradient buckets overlap the backward kernels; the compute stream waits for a
// collective's result only when it is waited for. The ncclUniqueId travels over MPI, and the
// deadlines, timeout reports and host-side metric sums are the MPI communicator's.
#include <nccl.h>

#include <memory>
#include <string>
#include <vector>

#include "training/distributed/communicator.h"
#include "training/distributed/mpi_communicator.h"

namespace repflow {

class NcclCommunicator : public Communicator {
 public:
  // `device` is this process's GPU (normally cuda:local_rank); `mpi` carries the bootstrap.
  NcclCommunicator(std::shared_ptr<MpiCommunicator> mpi, Device device);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return mpi_->rank(); }
  int world_size() const override { return mpi_->world_size(); }
  Device device() const override { return device_; }

  std::unique_ptr<PendingCollective> allreduce_sum_async(const Tensor& t,
                                                         const std::string& what) override;
  void broadcast(const Tensor& t, int root, const std::string& what) override;
  std::vector<double> allreduce_sum(const std::vector<double>& values,
                                    const std::string& what) override;
  using Communicator::allreduce_sum;

  // Polls `done` (recorded on the NCCL stream) until the deadline from `start`, then makes the
  // compute stream wait for it. Past the deadline the NCCL communicator is aborted and the job
  // ended with the MPI communicator's report.
  void wait_for(cudaEvent_t done, double start_s, const std::string& what);

 private:
  // Orders the NCCL stream after the work queued so far on the compute stream.
  void follow_compute_stream();

  std::shared_ptr<MpiCommunicator> mpi_;
  Device device_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t ready_ = nullptr;
};

}  // namespace repflow
