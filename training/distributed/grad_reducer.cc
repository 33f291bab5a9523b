#include "training/distributed/grad_reducer.h"

#include <string>

#include "framework/autograd.h"
#include "ops/elementwise/elementwise.h"

namespace repflow {
namespace {

// The view of `flat` that holds a gradient of `shape` at `offset`.
Tensor slot(const Tensor& flat, const Shape& shape, int64_t offset) {
  return flat.as_strided(shape, contiguous_strides(shape), flat.offset() + offset);
}

}  // namespace

GradReducer::GradReducer(std::vector<Tensor> params, Communicator& comm, double bucket_mb)
    : params_(std::move(params)),
      comm_(comm),
      bucket_of_(params_.size()),
      offset_of_(params_.size()) {
  RF_CHECK(bucket_mb > 0, "distributed: the bucket size must be positive, got ", bucket_mb, " MB");
  const auto bucket_bytes = static_cast<int64_t>(bucket_mb * 1024 * 1024);
  int64_t bytes = 0;
  for (int64_t i = static_cast<int64_t>(params_.size()) - 1; i >= 0; --i) {
    const Tensor& p = params_[i];
    RF_CHECK(p.defined() && p.requires_grad() && p.is_leaf(), "distributed: parameter ", i,
             " is not a leaf requiring grad");
    RF_CHECK(p.device() == comm.device(), "distributed: parameter ", i, " is on ", p.device().str(),
             " but the communicator works on ", comm.device().str());
    if (buckets_.empty() || bytes >= bucket_bytes) {
      buckets_.emplace_back();
      bytes = 0;
    }
    RF_CHECK(index_of_.emplace(p.impl(), i).second, "distributed: parameter ", i,
             " is listed twice");
    buckets_.back().params.push_back(i);
    bucket_of_[i] = static_cast<int64_t>(buckets_.size()) - 1;
    offset_of_[i] = bytes / static_cast<int64_t>(sizeof(float));
    bytes += p.numel() * static_cast<int64_t>(sizeof(float));
  }
  for (Bucket& b : buckets_) {
    const int64_t last = b.params.back();
    b.flat = Tensor::zeros({offset_of_[last] + params_[last].numel()}, comm.device());
  }
}

void GradReducer::backward(const Tensor& loss) {
  param_ready_.assign(params_.size(), false);
  for (Bucket& b : buckets_) b.ready = 0;
  next_launch_ = 0;
  {
    LeafGradReadyHook hook([this](const Tensor& leaf) { on_ready(leaf); });
    loss.backward();
  }
  finish();
}

void GradReducer::on_ready(const Tensor& leaf) {
  const auto found = index_of_.find(leaf.impl());
  // Leaves that are not parameters (inputs requiring grad) are not reduced.
  if (found == index_of_.end() || param_ready_[found->second]) return;
  const int64_t index = found->second;
  param_ready_[index] = true;
  Bucket& b = buckets_[bucket_of_[index]];
  Tensor target = slot(b.flat, leaf.shape(), offset_of_[index]);
  if (leaf.grad().defined()) {
    target.copy_(leaf.grad());
  } else {
    target.fill_(0.0f);
  }
  ++b.ready;
  launch_ready_buckets();
  // MPI advances non-blocking collectives only inside MPI calls: testing the ones in flight
  // here is what lets them progress while backward computes.
  for (int64_t i = 0; i < next_launch_; ++i) buckets_[i].pending->test();
}

void GradReducer::launch_ready_buckets() {
  while (next_launch_ < bucket_count()) {
    Bucket& b = buckets_[next_launch_];
    if (b.ready < static_cast<int64_t>(b.params.size())) return;
    b.pending =
        comm_.allreduce_sum_async(b.flat, "gradient bucket " + std::to_string(next_launch_));
    ++next_launch_;
  }
}

void GradReducer::finish() {
  // Parameters this rank's pass never reached contribute zeros.
  for (size_t i = 0; i < params_.size(); ++i)
    if (!param_ready_[i]) on_ready(params_[i]);
  NoGradGuard no_grad;
  const float scale = 1.0f / static_cast<float>(comm_.world_size());
  for (Bucket& b : buckets_) {
    b.pending->wait();
    b.pending.reset();
    const Tensor average = ops::mul(b.flat, scale);
    for (const int64_t i : b.params) {
      Tensor& p = params_[i];
      const Tensor value = slot(average, p.shape(), offset_of_[i]);
      if (p.grad().defined()) {
        Tensor grad = p.grad();
        grad.copy_(value);
      } else {
        p.set_grad(value.clone());
      }
    }
  }
}

}  // namespace repflow
