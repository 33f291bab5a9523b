#include "tests/gradcheck.h"

#include <cmath>
#include <sstream>

#include "framework/autograd.h"

namespace repflow::testing {
namespace {

double weighted_sum(const Tensor& out, const std::vector<float>& w) {
  const std::vector<float> v = out.to_vector();
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += static_cast<double>(v[i]) * w[i];
  return s;
}

}  // namespace

double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  RF_CHECK(a.size() == b.size(), "relative_error: ", a.size(), " values against ", b.size());
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (double{a[i]} - b[i]) * (double{a[i]} - b[i]);
    norm += double{b[i]} * b[i];
  }
  return std::sqrt(diff / norm);
}

double relative_error(const Tensor& a, const Tensor& b) {
  return relative_error(a.to_vector(), b.to_vector());
}

Tensor random_leaf(const Shape& shape, uint64_t seed, float low, float high) {
  Generator gen(seed);
  Tensor t = Tensor::uniform(shape, low, high, gen);
  t.set_requires_grad(true);
  return t;
}

GradcheckResult gradcheck(const TensorFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  GradcheckResult result;
  std::ostringstream report;
  for (const Tensor& t : inputs) {
    RF_CHECK(t.device().is_cpu(), "gradcheck: inputs must be CPU tensors");
    if (t.requires_grad()) const_cast<Tensor&>(t).set_grad(Tensor());
  }
  Tensor out = fn(inputs);
  Generator gen(options.seed);
  const Tensor w = Tensor::normal(out.shape(), 0.0f, 1.0f, gen);
  const std::vector<float> wv = w.to_vector();
  if (out.requires_grad()) out.backward(w.to(out.device()));

  int mismatches = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    const std::vector<float> analytic =
        x.grad().defined() ? x.grad().to_vector() : std::vector<float>(x.numel(), 0.0f);
    // Perturb the stored element behind each logical index of the leaf.
    const Shape& strides = x.strides();
    for (int64_t i = 0; i < x.numel(); ++i) {
      int64_t rem = i, off = 0;
      for (int d = x.dim() - 1; d >= 0; --d) {
        off += (rem % x.shape()[d]) * strides[d];
        rem /= x.shape()[d];
      }
      float* p = x.data() + off;
      const float orig = *p;
      double f_plus, f_minus;
      float x_plus, x_minus;
      {
        NoGradGuard no_grad;
        *p = static_cast<float>(orig + options.eps);
        x_plus = *p;
        f_plus = weighted_sum(fn(inputs), wv);
        *p = static_cast<float>(orig - options.eps);
        x_minus = *p;
        f_minus = weighted_sum(fn(inputs), wv);
        *p = orig;
      }
      const double numeric = (f_plus - f_minus) / (static_cast<double>(x_plus) - x_minus);
      const double err = std::fabs(analytic[i] - numeric);
      result.max_abs_error = std::max(result.max_abs_error, err);
      ++result.checked;
      if (!(err <= options.atol + options.rtol * std::fabs(numeric))) {
        result.ok = false;
        if (mismatches++ < 8)
          report << "input " << k << " " << shape_str(x.shape()) << " element " << i
                 << ": analytic " << analytic[i] << " numeric " << numeric << "\n";
      }
    }
  }
  if (!result.ok) report << mismatches << " mismatching elements\n";
  result.report = report.str();
  return result;
}

}  // namespace repflow::testing
