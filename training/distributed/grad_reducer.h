#pragma once
// Data-parallel gradient averaging with bucketing: parameters are grouped, in reverse order
// (backward produces the last layers' gradients first), into buckets of about `bucket_mb`
// megabytes; a bucket's allreduce starts, non-blocking, as soon as backward has made every
// gradient in it final (framework/autograd.h LeafGradReadyHook), so communication overlaps the
// rest of backward. Buckets start in index order on every rank, as MPI and NCCL require.
#include <memory>
#include <unordered_map>
#include <vector>

#include "framework/tensor.h"
#include "training/distributed/communicator.h"

namespace repflow {

class GradReducer {
 public:
  // `params` (leaves requiring grad, on comm.device()) must be listed in the same order on
  // every rank: Module::named_parameters() gives that.
  GradReducer(std::vector<Tensor> params, Communicator& comm, double bucket_mb = 25.0);

  // loss.backward(), after which every parameter's grad is the average over all ranks of the
  // gradients of their local losses (zeros where a rank's pass did not reach a parameter).
  void backward(const Tensor& loss);

  int64_t bucket_count() const { return static_cast<int64_t>(buckets_.size()); }
  // The parameters of bucket b, as indices into `params`.
  const std::vector<int64_t>& bucket_params(int64_t b) const { return buckets_[b].params; }

 private:
  struct Bucket {
    std::vector<int64_t> params;  // indices into params_
    Tensor flat;                  // the gradients, each at offset_of_ its parameter
    int64_t ready = 0;
    std::unique_ptr<PendingCollective> pending;
  };
  void on_ready(const Tensor& leaf);
  // Starts every complete bucket whose predecessors have all started.
  void launch_ready_buckets();
  void finish();

  std::vector<Tensor> params_;
  Communicator& comm_;
  std::vector<Bucket> buckets_;
  std::unordered_map<const TensorImpl*, int64_t> index_of_;
  std::vector<int64_t> bucket_of_, offset_of_;  // per parameter
  std::vector<bool> param_ready_;
  int64_t next_launch_ = 0;
};

}  // namespace repflow
