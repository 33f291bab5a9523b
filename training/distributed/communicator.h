#pragma once
// The collectives data-parallel training needs, behind one interface with an MPI (CPU tensors)
// and an NCCL (CUDA tensors) implementation. Every collective has a deadline: a rank that
// stops, hangs or diverges makes the others end the job with an error naming the operation and
// the ranks that did not arrive, instead of waiting forever.
#include <memory>
#include <string>
#include <vector>

#include "framework/tensor.h"

namespace repflow {

// One collective in flight on this rank.
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  // Lets the transport progress the operation without blocking; true once it has completed.
  // Transports without a progress thread (MPI) only advance inside such calls.
  virtual bool test() = 0;
  // Blocks until it has completed; past the communicator's timeout it ends the whole job.
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Where the tensors it takes live: the CPU for MPI, this process's GPU for NCCL.
  virtual Device device() const = 0;

  // Starts replacing `t` (contiguous, on device()) by its element-wise sum over all ranks. `t`
  // must stay alive and untouched until the returned collective has completed. `what` names
  // the operation in error messages ("gradient bucket 3").
  virtual std::unique_ptr<PendingCollective> allreduce_sum_async(const Tensor& t,
                                                                 const std::string& what) = 0;
  // Overwrites `t` (contiguous, on device()) with rank `root`'s values, blocking.
  virtual void broadcast(const Tensor& t, int root, const std::string& what) = 0;
  // Element-wise sums of small host vectors over all ranks: evaluation metrics (correct
  // counts, loss sums) in double, so that counts stay exact.
  virtual std::vector<double> allreduce_sum(const std::vector<double>& values,
                                            const std::string& what) = 0;

  void allreduce_sum(const Tensor& t, const std::string& what);
};

// What a collective sees of a tensor: contiguous, on the communicator's device.
void check_collective_tensor(const Communicator& comm, const Tensor& t, const std::string& what);

}  // namespace repflow
