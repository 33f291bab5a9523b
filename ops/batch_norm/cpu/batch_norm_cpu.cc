#include <algorithm>
#include <array>
#include <vector>

#include "framework/parallel.h"
#include "ops/batch_norm/batch_norm_kernels.h"
#include "ops/batch_norm/batch_norm_math.h"

namespace repflow::ops {
namespace {

// A row (one sample's plane of one channel) is summed as blocks of kBlock elements in kLanes
// independent float accumulators, which the compiler turns into vector adds, and each block's
// total is added in double: float speed, and an error that does not grow with the row.
constexpr int64_t kBlock = 1024;
constexpr int kLanes = 16;
// Elements a parallel chunk handles at least, so that small tensors stay on one thread.
constexpr int64_t kGrain = 1 << 14;

struct Dims {
  int64_t n, c, s;
  int64_t rows() const { return n * c; }
  double count() const { return static_cast<double>(n * s); }
};

Dims dims_of(const Tensor& x) {
  const int64_t n = x.size(0), c = x.size(1);
  return {n, c, n * c == 0 ? 0 : x.numel() / (n * c)};
}

// The K sums over i < len of f(i), an array of K floats.
template <int K, class F>
std::array<double, K> blocked_sums(int64_t len, F f) {
  std::array<double, K> total{};
  for (int64_t b = 0; b < len; b += kBlock) {
    const int64_t e = std::min(len, b + kBlock);
    float lanes[K][kLanes] = {};
    int64_t i = b;
    for (; i + kLanes <= e; i += kLanes) {
      for (int l = 0; l < kLanes; ++l) {
        const std::array<float, K> v = f(i + l);
        for (int k = 0; k < K; ++k) lanes[k][l] += v[k];
      }
    }
    for (; i < e; ++i) {
      const std::array<float, K> v = f(i);
      for (int k = 0; k < K; ++k) lanes[k][0] += v[k];
    }
    for (int k = 0; k < K; ++k) {
      float block = 0.0f;
      for (int l = 0; l < kLanes; ++l) block += lanes[k][l];
      total[k] += block;
    }
  }
  return total;
}

// out[i] = f(i) for i < n. The fixed-length inner loops over a local buffer are what -O2's cost
// model vectorises: no aliasing check and no epilogue inside them.
template <class F>
void map_row(float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    float buffer[kLanes];
    for (int l = 0; l < kLanes; ++l) buffer[l] = f(i + l);
    for (int l = 0; l < kLanes; ++l) out[i + l] = buffer[l];
  }
  for (; i < n; ++i) out[i] = f(i);
}

// fn(row, channel) for every row of x, rows split over the pool.
template <class F>
void for_rows(const Dims& d, F fn) {
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(d.s, 1));
  parallel_for(0, d.rows(), grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) fn(r, r % d.c);
  });
}

// Room for one value per row, kept per thread from call to call (`slot` tells a call's arrays
// apart). Small planes have tens of thousands of rows: a fresh zeroed array per pass cost more,
// in page faults and memset, than the sums written into it.
double* row_values(int slot, const Dims& d) {
  thread_local std::vector<double> arrays[2];
  std::vector<double>& a = arrays[slot];
  if (a.size() < static_cast<size_t>(d.rows())) a.resize(d.rows());
  return a.data();
}

// Per-channel totals of per-row values, added over the samples in a fixed order so that the
// result does not depend on the thread count.
std::vector<double> channel_totals(const double* rows, const Dims& d) {
  std::vector<double> totals(d.c, 0.0);
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t c = 0; c < d.c; ++c) totals[c] += rows[n * d.c + c];
  return totals;
}

// The batch's per-channel mean and biased variance, in two passes (sum, then squared deviations
// from the mean) because the one-pass E[x^2] - E[x]^2 cancels badly when |mean| >> std.
void batch_stats(const float* x, const Dims& d, std::vector<double>& mean,
                 std::vector<double>& var) {
  double* rows = row_values(0, d);
  for_rows(d, [&](int64_t r, int64_t) {
    const float* row = x + r * d.s;
    rows[r] = blocked_sums<1>(d.s, [row](int64_t i) { return std::array<float, 1>{row[i]}; })[0];
  });
  mean = channel_totals(rows, d);
  for (double& m : mean) m /= d.count();
  for_rows(d, [&](int64_t r, int64_t c) {
    const float* row = x + r * d.s;
    const float m = static_cast<float>(mean[c]);
    rows[r] = blocked_sums<1>(d.s, [row, m](int64_t i) {
      const float t = row[i] - m;
      return std::array<float, 1>{t * t};
    })[0];
  });
  var = channel_totals(rows, d);
  for (double& v : var) v /= d.count();
}

// y = scale x + shift per channel, plus the residual when kResidual, clamped at 0 when kRelu.
template <bool kRelu, bool kResidual>
void normalize_rows(const Dims& d, const float* x, const float* residual,
                    const std::vector<float>& scale, const std::vector<float>& shift, float* y) {
  for_rows(d, [&](int64_t r, int64_t c) {
    const float* in = x + r * d.s;
    const float* res = kResidual ? residual + r * d.s : nullptr;
    float* out = y + r * d.s;
    const float sc = scale[c], sh = shift[c];
    map_row(out, d.s, [in, res, sc, sh](int64_t i) {
      float v = bn_normalize(in[i], sc, sh);
      if (kResidual) v += res[i];
      return kRelu ? bn_relu(v) : v;
    });
  });
}

// The backward; kGated when the ReLU was fused, so every read of g is the ReLU's gradient.
template <bool kGated>
void backward_rows(const BatchNormBackward& a) {
  const Dims d = dims_of(a.x);
  const float* x = a.x.data();
  const float* g = a.g.data();
  const float* y = kGated ? a.y.data() : nullptr;
  const float* mean = a.save_mean.data();
  const float* invstd = a.save_invstd.data();
  // g of row r, seen through the fused ReLU.
  auto row_g = [g, y, &d](int64_t r) {
    const float* gr = g + r * d.s;
    const float* yr = kGated ? y + r * d.s : nullptr;
    return [gr, yr](int64_t i) { return kGated ? bn_relu_grad(gr[i], yr[i]) : gr[i]; };
  };
  // Per channel: sum of g and of g (x - mean); eval mode's input gradient needs neither.
  std::vector<double> sum_g(d.c, 0.0), sum_gx(d.c, 0.0);
  if (a.gw.defined() || a.gb.defined() || (a.training && a.gx.defined())) {
    double* rows_g = row_values(0, d);
    double* rows_gx = row_values(1, d);
    for_rows(d, [&](int64_t r, int64_t c) {
      const auto gr = row_g(r);
      const float* xr = x + r * d.s;
      const float m = mean[c];
      const std::array<double, 2> s = blocked_sums<2>(d.s, [gr, xr, m](int64_t i) {
        const float gi = gr(i);
        return std::array<float, 2>{gi, gi * (xr[i] - m)};
      });
      rows_g[r] = s[0];
      rows_gx[r] = s[1];
    });
    sum_g = channel_totals(rows_g, d);
    sum_gx = channel_totals(rows_gx, d);
  }
  for (int64_t c = 0; c < d.c; ++c) {
    if (a.gb.defined()) a.gb.data()[c] = static_cast<float>(sum_g[c]);
    if (a.gw.defined()) a.gw.data()[c] = static_cast<float>(sum_gx[c] * invstd[c]);
  }
  if (!a.gx.defined()) return;
  std::vector<float> k(d.c), mean_g(d.c, 0.0f), mean_g_xhat(d.c, 0.0f);
  for (int64_t c = 0; c < d.c; ++c) {
    k[c] = (a.weight.defined() ? a.weight.data()[c] : 1.0f) * invstd[c];
    if (a.training) {
      mean_g[c] = static_cast<float>(sum_g[c] / d.count());
      mean_g_xhat[c] = static_cast<float>(sum_gx[c] * invstd[c] / d.count());
    } else if (a.mean_g.defined()) {
      mean_g[c] = a.mean_g.data()[c];
      mean_g_xhat[c] = a.mean_g_xhat.data()[c];
    }
  }
  float* gx = a.gx.data();
  for_rows(d, [&](int64_t r, int64_t c) {
    const auto gr = row_g(r);
    const float* xr = x + r * d.s;
    float* out = gx + r * d.s;
    const float m = mean[c], is = invstd[c], kc = k[c], mg = mean_g[c], mgx = mean_g_xhat[c];
    map_row(out, d.s, [=](int64_t i) { return bn_grad_input(gr(i), xr[i], m, is, kc, mg, mgx); });
  });
}

}  // namespace

void batch_norm_forward_cpu(const BatchNormForward& a) {
  const Dims d = dims_of(a.x);
  const float* x = a.x.data();
  float* mean = a.save_mean.data();
  float* invstd = a.save_invstd.data();
  if (a.training) {
    std::vector<double> batch_mean, batch_var;
    batch_stats(x, d, batch_mean, batch_var);
    const double unbias = d.count() / (d.count() - 1.0);
    const double m = a.momentum;
    for (int64_t c = 0; c < d.c; ++c) {
      mean[c] = static_cast<float>(batch_mean[c]);
      invstd[c] = bn_invstd(static_cast<float>(batch_var[c]), a.eps);
      if (!a.running_mean.defined()) continue;
      float& rm = a.running_mean.data()[c];
      float& rv = a.running_var.data()[c];
      rm = static_cast<float>((1.0 - m) * rm + m * batch_mean[c]);
      rv = static_cast<float>((1.0 - m) * rv + m * batch_var[c] * unbias);
    }
  } else {
    for (int64_t c = 0; c < d.c; ++c) {
      mean[c] = a.running_mean.data()[c];
      invstd[c] = bn_invstd(a.running_var.data()[c], a.eps);
    }
  }
  std::vector<float> scale(d.c), shift(d.c);
  for (int64_t c = 0; c < d.c; ++c) {
    scale[c] = (a.weight.defined() ? a.weight.data()[c] : 1.0f) * invstd[c];
    shift[c] = (a.bias.defined() ? a.bias.data()[c] : 0.0f) - mean[c] * scale[c];
  }
  float* y = a.y.data();
  if (a.residual.defined()) {
    normalize_rows<true, true>(d, x, a.residual.data(), scale, shift, y);
  } else if (a.relu) {
    normalize_rows<true, false>(d, x, nullptr, scale, shift, y);
  } else {
    normalize_rows<false, false>(d, x, nullptr, scale, shift, y);
  }
}

void batch_norm_backward_cpu(const BatchNormBackward& a) {
  if (a.y.defined()) {
    backward_rows<true>(a);
  } else {
    backward_rows<false>(a);
  }
}

}  // namespace repflow::ops
