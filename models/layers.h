#pragma once
// The building blocks networks are made of, with PyTorch's parameter names and default
// initialisation.
#include <memory>
#include <vector>

#include "framework/generator.h"
#include "models/module.h"
#include "ops/batch_norm/batch_norm.h"
#include "ops/conv/conv.h"
#include "ops/pool/pool.h"

namespace repflow {

// Conv1d/2d/3d by the length of `kernel`: parameters `weight` (out, in / groups, *kernel) and,
// with bias, `bias` (out). Initialised like PyTorch: uniform in +-1/sqrt(fan_in).
class Conv : public Module {
 public:
  Conv(int64_t in_channels, int64_t out_channels, std::vector<int64_t> kernel,
       ops::ConvOptions options = {}, bool bias = true);
  Tensor forward(const Tensor& x) override;
  Tensor& weight() { return *weight_; }

 private:
  ops::ConvOptions options_;
  Tensor* weight_;
  Tensor* bias_ = nullptr;
};

// BatchNorm1d/2d/3d: `weight`, `bias` (ones, zeros) and buffers `running_mean`, `running_var`.
// With set_sync, training-mode statistics cover every process's batch (ops::sync_batch_norm);
// eval mode is unchanged.
class BatchNorm : public Module {
 public:
  explicit BatchNorm(int64_t channels, float eps = 1e-5f, float momentum = 0.1f);
  Tensor forward(const Tensor& x) override;
  // relu(forward(x)), fused into one op (ops::batch_norm_relu) where it can be: not with sync.
  Tensor forward_relu(const Tensor& x);
  // relu(forward(x) + residual), fused likewise (ops::batch_norm_add_relu); residual has x's
  // shape.
  Tensor forward_add_relu(const Tensor& x, const Tensor& residual);
  // An undefined function turns synchronisation off again.
  void set_sync(ops::ChannelAllreduce allreduce_sum) { sync_ = std::move(allreduce_sum); }

 private:
  float eps_, momentum_;
  ops::ChannelAllreduce sync_;
  Tensor *weight_, *bias_, *running_mean_, *running_var_;
};

// Linear(in, out): `weight` (out, in), `bias` (out), initialised like Conv (PyTorch's default).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;

 private:
  Tensor* weight_;
  Tensor* bias_ = nullptr;
};

// Inverted dropout in training mode, the identity in eval mode. Each training-mode call takes
// the next draw of `gen`, so consecutive calls use different masks.
class Dropout : public Module {
 public:
  explicit Dropout(float p, Generator& gen = default_generator()) : p_(p), gen_(&gen) {}
  Tensor forward(const Tensor& x) override;

 private:
  float p_;
  Generator* gen_;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

class MaxPool : public Module {
 public:
  explicit MaxPool(ops::PoolOptions options) : options_(std::move(options)) {}
  Tensor forward(const Tensor& x) override;

 private:
  ops::PoolOptions options_;
};

// TensorFlow's "SAME" padding of the trailing spatial dims for a window `kernel` moved by
// `stride`: a dim of size n is padded by max(k - s, 0) if n % s == 0 else max(k - n % s, 0),
// half (rounded down) in front and the rest behind.
class SamePadding : public Module {
 public:
  SamePadding(std::vector<int64_t> kernel, std::vector<int64_t> stride)
      : kernel_(std::move(kernel)), stride_(std::move(stride)) {}
  Tensor forward(const Tensor& x) override;

 private:
  std::vector<int64_t> kernel_, stride_;
};

// x through each module in order; a BatchNorm directly followed by a ReLU runs as forward_relu.
Tensor forward_chain(const std::vector<std::shared_ptr<Module>>& modules, const Tensor& x);

// relu(forward_chain(modules, x) + residual): a residual block's path, its shortcut added and
// the ReLU after them. When the path ends in a BatchNorm (directly or as a Sequential's last
// module) that BatchNorm runs as forward_add_relu.
Tensor forward_chain_add_relu(const std::vector<std::shared_ptr<Module>>& modules, const Tensor& x,
                              const Tensor& residual);

// Children named "0", "1", ... in order, as PyTorch's nn.Sequential (forward_chain).
class Sequential : public Module {
 public:
  Sequential& add(std::shared_ptr<Module> module);
  Tensor forward(const Tensor& x) override;
  const std::vector<std::shared_ptr<Module>>& modules() const { return modules_; }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace repflow
