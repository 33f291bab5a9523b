#include "ops/optim/optim.h"

#include <algorithm>

#include "ops/dispatch.h"
#include "ops/optim/optim_kernels.h"

namespace repflow::ops {

namespace {

// The fused schedules by device (ops/dispatch.h).
const DispatchStub<void(const SgdTensor*, int64_t, const TensorChunk*, int64_t, const SgdHyper&)>
    sgd_step_stub{"sgd_step_", sgd_step_cpu, RF_CUDA_SCHEDULE(sgd_step_cuda)};
const DispatchStub<void(const LerpTensor*, int64_t, const TensorChunk*, int64_t, LerpRate)>
    lerp_stub{"lerp_", lerp_cpu, RF_CUDA_SCHEDULE(lerp_cuda)};

// Elements per chunk: enough that a chunk's loop dwarfs its scheduling, few enough that a
// network's largest tensors spread over every thread and every streaming multiprocessor.
constexpr int64_t kChunkElements = int64_t{1} << 16;

// Every tensor of `sizes` cut into chunks of at most kChunkElements; empty tensors give none.
std::vector<TensorChunk> chunks_of(const std::vector<int64_t>& sizes) {
  std::vector<TensorChunk> chunks;
  for (size_t t = 0; t < sizes.size(); ++t) {
    for (int64_t begin = 0; begin < sizes[t]; begin += kChunkElements) {
      chunks.push_back(
          {static_cast<int64_t>(t), begin, std::min(sizes[t], begin + kChunkElements)});
    }
  }
  return chunks;
}

// `t`, the `role` of entry `index` of `op`, is a contiguous tensor of `shape` on `device`.
void check_fits(const char* op, size_t index, const char* role, const Tensor& t, const Shape& shape,
                const Device& device) {
  RF_CHECK(t.defined(), op, ": entry ", index, " has no ", role);
  RF_CHECK(t.shape() == shape, op, ": entry ", index, "'s ", role, " has shape ",
           shape_str(t.shape()), ", not ", shape_str(shape));
  RF_CHECK(t.device() == device, op, ": entry ", index, "'s ", role, " is on ", t.device().str(),
           ", not ", device.str());
  RF_CHECK(t.is_contiguous(), op, ": entry ", index, "'s ", role, " is not contiguous");
}

// `value`, the `role` of `op`, is a one-element tensor on `device`: its first element's address.
const float* device_scalar(const char* op, const char* role, const Tensor& value,
                           const Device& device) {
  RF_CHECK(value.numel() == 1, op, ": the ", role, " is a tensor of shape ",
           shape_str(value.shape()), ", not one value");
  RF_CHECK(value.device() == device, op, ": the ", role, " is on ", value.device().str(), ", not ",
           device.str());
  return value.data();
}

}  // namespace

void sgd_step_(const std::vector<SgdSlot>& slots, const SgdHyper& hyper_in,
               const Tensor& lr_scale) {
  if (slots.empty()) return;
  RF_CHECK(slots.front().param.defined(), "sgd_step_: entry 0 has no parameter");
  const Device device = slots.front().param.device();
  SgdHyper hyper = hyper_in;
  hyper.lr_scale =
      lr_scale.defined() ? device_scalar("sgd_step_", "learning rate", lr_scale, device) : nullptr;
  std::vector<SgdTensor> table;
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < slots.size(); ++i) {
    const SgdSlot& s = slots[i];
    RF_CHECK(s.param.defined(), "sgd_step_: entry ", i, " has no parameter");
    check_fits("sgd_step_", i, "parameter", s.param, s.param.shape(), device);
    check_fits("sgd_step_", i, "gradient", s.grad, s.param.shape(), device);
    RF_CHECK(s.momentum.defined() == (hyper.momentum != 0.0f), "sgd_step_: entry ", i,
             hyper.momentum != 0.0f ? " has no momentum buffer" : " has a momentum buffer",
             " with momentum ", hyper.momentum);
    if (s.momentum.defined())
      check_fits("sgd_step_", i, "momentum buffer", s.momentum, s.param.shape(), device);
    table.push_back({s.param.data(), s.grad.data(),
                     s.momentum.defined() ? s.momentum.data() : nullptr, s.lr, s.weight_decay,
                     s.first_step});
    sizes.push_back(s.param.numel());
  }
  const std::vector<TensorChunk> chunks = chunks_of(sizes);
  if (chunks.empty()) return;
  sgd_step_stub(device, table.data(), static_cast<int64_t>(table.size()), chunks.data(),
                static_cast<int64_t>(chunks.size()), hyper);
}

namespace {

// lerp_ at `rate`: its value, or with a defined `rate_tensor` the value that holds.
void lerp_at(const std::vector<Tensor>& targets, const std::vector<Tensor>& sources, float rate,
             const Tensor& rate_tensor) {
  RF_CHECK(targets.size() == sources.size(), "lerp_: ", targets.size(), " targets but ",
           sources.size(), " sources");
  if (targets.empty()) return;
  RF_CHECK(targets.front().defined(), "lerp_: entry 0 has no target");
  const Device device = targets.front().device();
  std::vector<LerpTensor> table;
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < targets.size(); ++i) {
    RF_CHECK(targets[i].defined(), "lerp_: entry ", i, " has no target");
    check_fits("lerp_", i, "target", targets[i], targets[i].shape(), device);
    check_fits("lerp_", i, "source", sources[i], targets[i].shape(), device);
    table.push_back({targets[i].data(), sources[i].data()});
    sizes.push_back(targets[i].numel());
  }
  const std::vector<TensorChunk> chunks = chunks_of(sizes);
  if (chunks.empty()) return;
  const LerpRate source{
      rate, rate_tensor.defined() ? device_scalar("lerp_", "rate", rate_tensor, device) : nullptr};
  lerp_stub(device, table.data(), static_cast<int64_t>(table.size()), chunks.data(),
            static_cast<int64_t>(chunks.size()), source);
}

}  // namespace

void lerp_(const std::vector<Tensor>& targets, const std::vector<Tensor>& sources, float rate) {
  RF_CHECK(rate >= 0.0f && rate <= 1.0f, "lerp_: rate ", rate, " is outside [0, 1]");
  lerp_at(targets, sources, rate, Tensor());
}

void lerp_(const std::vector<Tensor>& targets, const std::vector<Tensor>& sources,
           const Tensor& rate) {
  RF_CHECK(rate.defined(), "lerp_: the rate tensor is undefined");
  lerp_at(targets, sources, 0.0f, rate);
}

}  // namespace repflow::ops
