#pragma once
// Collectives over MPI on CPU tensors, each with a deadline (MPI has none): non-blocking calls
// polled until done, and past `timeout_s` the rank finds out which ranks are not waiting in a
// collective too, prints an error naming the operation and those ranks, and aborts the job.
#include <mpi.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "training/distributed/communicator.h"

namespace repflow {

class MpiCommunicator : public Communicator {
 public:
  // init_mpi() must have run. Works on its own duplicate of MPI_COMM_WORLD.
  explicit MpiCommunicator(double timeout_s);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  Device device() const override { return Device::cpu(); }
  double timeout_s() const { return timeout_s_; }

  std::unique_ptr<PendingCollective> allreduce_sum_async(const Tensor& t,
                                                         const std::string& what) override;
  void broadcast(const Tensor& t, int root, const std::string& what) override;
  std::vector<double> allreduce_sum(const std::vector<double>& values,
                                    const std::string& what) override;
  using Communicator::allreduce_sum;

  // Broadcasts raw bytes from `root`, blocking, with the same deadline (the NCCL communicator
  // sends its ncclUniqueId this way).
  void broadcast_bytes(void* data, int bytes, int root, const std::string& what);

  // Waits for `request`, started at `start`, until the deadline; `what` names it on timeout.
  void wait_for(MPI_Request* request, std::chrono::steady_clock::time_point start,
                const std::string& what);
  // Past the deadline: names the ranks that are not waiting in a collective and ends the job.
  [[noreturn]] void timed_out(const std::string& what);
  // Answers other ranks' timeout reports with this rank's own, so that a rank that timed out
  // can tell the ranks waiting with it from the missing ones. Called while waiting.
  void answer_timeout_reports();
  // Counts a collective started on another transport (NCCL) that shares this deadline logic.
  void count_collective() { ++collectives_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, world_size_ = 1;
  double timeout_s_;
  long long collectives_ = 0;  // started so far: a timeout report says which one a rank is in
};

}  // namespace repflow
