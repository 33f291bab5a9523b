#include "framework/tensor.h"

#include <algorithm>
#include <cmath>

#include "framework/autograd.h"
#include "framework/tensor_kernels.h"

namespace repflow {

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  // Checked: shapes are read from users' files (weights, .npy) before any tensor is made.
  for (int64_t s : shape)
    RF_CHECK(!__builtin_mul_overflow(n, s, &n), "shape ", shape_str(shape),
             " has more elements than a 64-bit count holds");
  return n;
}

namespace {

// 2^60: a tensor of 8-byte elements of this count still has a byte size that fits in int64_t.
constexpr int64_t kMaxElements = int64_t{1} << 60;

void check_shape(const char* what, const Shape& shape) {
  RF_CHECK(shape.size() <= static_cast<size_t>(kMaxDims), what, ": shape ", shape_str(shape),
           " has more than ", kMaxDims, " dimensions");
  int64_t n = 1;
  for (int64_t s : shape) {
    RF_CHECK(s >= 0, what, ": shape ", shape_str(shape), " has a negative size");
    // Its bytes, and any index into it, must fit in 64 bits; so must its strides, which a size
    // of 0 does not bound ([0, 2^40, 2^40] holds nothing, but its first stride overflows).
    RF_CHECK(!__builtin_mul_overflow(n, std::max<int64_t>(s, 1), &n) && n <= kMaxElements, what,
             ": shape ", shape_str(shape), " has sizes whose product is above ", kMaxElements);
  }
}

Tensor make(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  return Tensor(std::move(impl));
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, Device device) {
  check_shape("empty", shape);
  return make(std::make_shared<Storage>(shape_numel(shape), device), shape,
              contiguous_strides(shape), 0);
}

Tensor Tensor::zeros(const Shape& shape, Device device) { return full(shape, 0.0f, device); }
Tensor Tensor::ones(const Shape& shape, Device device) { return full(shape, 1.0f, device); }
Tensor Tensor::scalar(float value, Device device) { return full({}, value, device); }

Tensor Tensor::full(const Shape& shape, float value, Device device) {
  Tensor t = empty(shape, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::arange(float start, float end, float step, Device device) {
  RF_CHECK(step != 0 && std::isfinite(start) && std::isfinite(end) && std::isfinite(step),
           "arange: bad range start=", start, " end=", end, " step=", step);
  const double count = std::ceil((static_cast<double>(end) - start) / step);
  std::vector<float> values(count > 0 ? static_cast<size_t>(count) : 0);
  for (size_t i = 0; i < values.size(); ++i) values[i] = start + step * static_cast<float>(i);
  return from_vector({static_cast<int64_t>(values.size())}, values, device);
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values, Device device) {
  check_shape("from_vector", shape);
  RF_CHECK(shape_numel(shape) == static_cast<int64_t>(values.size()), "from_vector: shape ",
           shape_str(shape), " needs ", shape_numel(shape), " values, got ", values.size());
  Tensor host = empty(shape);
  std::copy(values.begin(), values.end(), host.data());
  return device.is_cpu() ? host : host.to(device);
}

namespace {
Tensor random_tensor(const Shape& shape, RandomDist dist, float a, float b, Generator& gen,
                     Device device) {
  Tensor t = Tensor::empty(shape, device);
  const uint64_t offset = gen.next_offset();
  if (device.is_cuda()) {
#if REPFLOW_WITH_CUDA
    kernels::random_cuda(device.index, t.data(), t.numel(), dist, a, b, gen.seed(), offset);
#endif
  } else {
    kernels::random_cpu(t.data(), t.numel(), dist, a, b, gen.seed(), offset);
  }
  return t;
}
}  // namespace

Tensor Tensor::uniform(const Shape& shape, float low, float high, Generator& gen, Device device) {
  RF_CHECK(low <= high, "uniform: low ", low, " is above high ", high);
  return random_tensor(shape, RandomDist::kUniform, low, high, gen, device);
}

Tensor Tensor::normal(const Shape& shape, float mean, float stddev, Generator& gen, Device device) {
  RF_CHECK(stddev >= 0, "normal: negative standard deviation ", stddev);
  return random_tensor(shape, RandomDist::kNormal, mean, stddev, gen, device);
}

const TensorImpl& Tensor::checked() const {
  RF_CHECK(impl_, "tensor: use of an undefined tensor");
  return *impl_;
}

const Shape& Tensor::shape() const { return checked().shape; }
const Shape& Tensor::strides() const { return checked().strides; }
int64_t Tensor::offset() const { return checked().offset; }
int64_t Tensor::numel() const { return shape_numel(shape()); }
Device Tensor::device() const { return checked().storage->device(); }
float* Tensor::data() const { return checked().storage->data() + impl_->offset; }
const std::shared_ptr<Storage>& Tensor::storage() const { return checked().storage; }

int64_t Tensor::size(int d) const {
  const int n = dim();
  RF_CHECK(d >= -n && d < n, "size: dimension ", d, " out of range for shape ", shape_str(shape()));
  return shape()[d < 0 ? d + n : d];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int d = dim() - 1; d >= 0; --d) {
    if (shape()[d] != 1 && strides()[d] != expected) return false;
    expected *= shape()[d];
  }
  return true;
}

StridedLayout Tensor::layout() const {
  StridedLayout l;
  l.ndim = dim();
  for (int d = 0; d < l.ndim; ++d) {
    l.sizes[d] = shape()[d];
    l.strides[d] = strides()[d];
  }
  return l;
}

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
  check_shape("as_strided", shape);
  RF_CHECK(shape.size() == strides.size(), "as_strided: shape ", shape_str(shape), " and strides ",
           shape_str(strides), " differ in rank");
  return make(storage(), shape, strides, offset);
}

Tensor Tensor::detach() const { return make(storage(), shape(), strides(), offset()); }

void Tensor::copy_(const Tensor& src) {
  RF_CHECK(shape() == src.shape(), "copy_: source shape ", shape_str(src.shape()),
           " differs from destination shape ", shape_str(shape()));
  if (numel() == 0) return;
  if (device() == src.device()) {
    if (device().is_cuda()) {
#if REPFLOW_WITH_CUDA
      kernels::copy_cuda(device().index, data(), layout(), src.data(), src.layout(), numel());
#endif
    } else {
      kernels::copy_cpu(data(), layout(), src.data(), src.layout(), numel());
    }
    return;
  }
#if REPFLOW_WITH_CUDA
  // Across devices the bytes move contiguously; strided views are packed on their own device.
  const Tensor s = src.is_contiguous() ? src : src.detach().contiguous();
  Tensor d = is_contiguous() ? *this : Tensor::empty(shape(), device());
  if (s.device().is_cpu()) {
    kernels::memcpy_to_device(d.device().index, d.data(), s.data(), numel());
  } else if (d.device().is_cpu()) {
    kernels::memcpy_to_host(s.device().index, d.data(), s.data(), numel());
  } else {
    kernels::memcpy_device_to_device(d.device().index, d.data(), s.device().index, s.data(),
                                     numel());
  }
  if (!d.is_same(*this)) copy_(d);
#else
  RF_FAIL("copy_: ", src.device().str(), " to ", device().str(),
          " needs the CUDA backend, which this build lacks");
#endif
}

void Tensor::fill_(float value) {
  RF_CHECK(is_contiguous(), "fill_: tensor of shape ", shape_str(shape()), " is not contiguous");
  if (device().is_cuda()) {
#if REPFLOW_WITH_CUDA
    kernels::fill_cuda(device().index, data(), numel(), value);
#endif
  } else {
    kernels::fill_cpu(data(), numel(), value);
  }
}

void Tensor::add_(const Tensor& src, float alpha) {
  RF_CHECK(shape() == src.shape() && device() == src.device(), "add_: source shape ",
           shape_str(src.shape()), " on ", src.device().str(), " differs from destination ",
           shape_str(shape()), " on ", device().str());
  RF_CHECK(is_contiguous(), "add_: destination of shape ", shape_str(shape()),
           " is not contiguous");
  const Tensor s = src.is_contiguous() ? src : src.detach().contiguous();
  if (device().is_cuda()) {
#if REPFLOW_WITH_CUDA
    kernels::axpy_cuda(device().index, data(), s.data(), alpha, numel());
#endif
  } else {
    kernels::axpy_cpu(data(), s.data(), alpha, numel());
  }
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  Tensor out = empty(shape(), device());
  out.copy_(*this);
  return record("contiguous", out, {*this},
                [](const Tensor& g, const GradMask&) { return std::vector<Tensor>{g}; });
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), device());
  out.copy_(*this);
  return record("clone", out, {*this},
                [](const Tensor& g, const GradMask&) { return std::vector<Tensor>{g}; });
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor out = empty(shape(), target);
  out.copy_(*this);
  const Device source = device();
  return record("to", out, {*this}, [source](const Tensor& g, const GradMask&) {
    return std::vector<Tensor>{g.to(source)};
  });
}

std::vector<float> Tensor::to_vector() const {
  Tensor host = empty(shape());
  host.copy_(*this);
  return std::vector<float>(host.data(), host.data() + host.numel());
}

float Tensor::item() const {
  RF_CHECK(numel() == 1, "item: tensor of shape ", shape_str(shape()), " has ", numel(),
           " elements, not one");
  return to_vector()[0];
}

float Tensor::at(const std::vector<int64_t>& index) const {
  RF_CHECK(static_cast<int>(index.size()) == dim(), "at: index ", shape_str(index),
           " does not match shape ", shape_str(shape()));
  int64_t off = 0;
  for (int d = 0; d < dim(); ++d) {
    RF_CHECK(index[d] >= 0 && index[d] < shape()[d], "at: index ", shape_str(index),
             " out of range for shape ", shape_str(shape()));
    off += index[d] * strides()[d];
  }
  return as_strided({}, {}, offset() + off).item();
}

bool Tensor::requires_grad() const { return checked().requires_grad; }

Tensor& Tensor::set_requires_grad(bool requires) {
  RF_CHECK(!checked().grad_fn, "set_requires_grad: only leaf tensors can be marked; this one was",
           " made by '", impl_->grad_fn->name(), "' (use detach() first)");
  impl_->requires_grad = requires;
  return *this;
}

const Tensor& Tensor::grad() const { return checked().grad; }

void Tensor::set_grad(const Tensor& grad) {
  RF_CHECK(!grad.defined() || grad.shape() == shape(), "set_grad: gradient of shape ",
           shape_str(grad.shape()), " for tensor of shape ", shape_str(shape()));
  checked();
  impl_->grad = grad;
}

const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked().grad_fn; }
bool Tensor::is_leaf() const { return !checked().grad_fn; }

void Tensor::backward(const Tensor& grad_output, bool retain_graph) const {
  run_backward(*this, grad_output, retain_graph);
}

}  // namespace repflow
