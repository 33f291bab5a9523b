#pragma once
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "framework/device.h"
#include "framework/error.h"
#include "framework/generator.h"
#include "framework/layout.h"
#include "framework/storage.h"

namespace repflow {

class Node;
struct TensorImpl;

// A float32 tensor: a view (shape, strides, offset) of a shared Storage on one device, plus its
// autograd state. Copying a Tensor copies the handle; views share storage.
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  static Tensor empty(const Shape& shape, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, Device device = Device::cpu());
  static Tensor full(const Shape& shape, float value, Device device = Device::cpu());
  static Tensor scalar(float value, Device device = Device::cpu());
  // start, start + step, ... while below end (above end for a negative step).
  static Tensor arange(float start, float end, float step = 1.0f, Device device = Device::cpu());
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values,
                            Device device = Device::cpu());
  static Tensor uniform(const Shape& shape, float low, float high, Generator& gen,
                        Device device = Device::cpu());
  static Tensor normal(const Shape& shape, float mean, float stddev, Generator& gen,
                       Device device = Device::cpu());

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t offset() const;
  int dim() const { return static_cast<int>(shape().size()); }
  // Size of dimension d; negative d counts from the end.
  int64_t size(int d) const;
  int64_t numel() const;
  Device device() const;
  bool is_contiguous() const;
  // Element 0 of this view on its device.
  float* data() const;
  const std::shared_ptr<Storage>& storage() const;
  StridedLayout layout() const;

  // Differentiable copies: contiguous() returns *this when already contiguous.
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(Device device) const;
  // Shares storage with this tensor but is cut off from the graph.
  Tensor detach() const;
  // A view of the same storage with other sizes and strides; not recorded by autograd (the
  // view ops in ops/ wrap it with their backward).
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;

  // In-place, never recorded: for optimisers, gradient accumulation and initialisation.
  void copy_(const Tensor& src);
  void fill_(float value);
  void add_(const Tensor& src, float alpha = 1.0f);

  // Reads for tests and printing; copy from the device when needed.
  float item() const;
  float at(const std::vector<int64_t>& index) const;
  std::vector<float> to_vector() const;
  std::string str() const;

  bool requires_grad() const;
  // Only leaves may be marked; returns *this for chaining.
  Tensor& set_requires_grad(bool requires = true);
  const Tensor& grad() const;
  void set_grad(const Tensor& grad);
  const std::shared_ptr<Node>& grad_fn() const;
  bool is_leaf() const;
  // Reverse-mode differentiation from this tensor. Without grad_output the tensor must hold
  // one element (a gradient of 1 is used). The graph's saved tensors are freed afterwards
  // unless retain_graph is set.
  void backward(const Tensor& grad_output = Tensor(), bool retain_graph = false) const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  const TensorImpl& checked() const;
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;
  Shape shape;
  Shape strides;
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
};

Shape contiguous_strides(const Shape& shape);
int64_t shape_numel(const Shape& shape);
std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace repflow
