// The CPU schedule of the representation flow op: planes in parallel on the thread pool, each
// plane's iterations in a chunk-local padded working copy that stays in cache (a 28 x 28 plane
// is 3.5 KB per field). Every sweep runs along the rows four pixels at a time in SSE registers,
// the row's last pixels one at a time, both through the same flow_math.h templates. (GCC does
// not vectorise these loops itself at -O2: the thresholding's selects and sqrt's errno path
// read as control flow.)
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "framework/thread_pool.h"
#include "ops/flow_kernels.h"

namespace repflow::ops {
namespace {

// Four adjacent pixels of a row.
struct Vec4 {
  __m128 v;
  Vec4() = default;
  Vec4(float x) : v(_mm_set1_ps(x)) {}  // NOLINT: broadcasts, as float literals in the formulas
  explicit Vec4(__m128 x) : v(x) {}
};
struct Mask4 {
  __m128 m;
};

inline Vec4 operator+(Vec4 a, Vec4 b) { return Vec4(_mm_add_ps(a.v, b.v)); }
inline Vec4 operator-(Vec4 a, Vec4 b) { return Vec4(_mm_sub_ps(a.v, b.v)); }
inline Vec4 operator*(Vec4 a, Vec4 b) { return Vec4(_mm_mul_ps(a.v, b.v)); }
inline Vec4 operator/(Vec4 a, Vec4 b) { return Vec4(_mm_div_ps(a.v, b.v)); }
inline Vec4 operator-(Vec4 a) { return Vec4(_mm_xor_ps(a.v, _mm_set1_ps(-0.0f))); }
inline Vec4& operator+=(Vec4& a, Vec4 b) { return a = a + b; }
inline Mask4 operator<(Vec4 a, Vec4 b) { return {_mm_cmplt_ps(a.v, b.v)}; }
inline Mask4 operator>(Vec4 a, Vec4 b) { return {_mm_cmpgt_ps(a.v, b.v)}; }

}  // namespace

template <>
struct FlowLanes<Vec4> {
  using Mask = Mask4;
  static Vec4 load(const float* p) { return Vec4(_mm_loadu_ps(p)); }
  static void store(float* p, Vec4 v) { _mm_storeu_ps(p, v.v); }
  static Vec4 select(Mask4 m, Vec4 a, Vec4 b) {
    return Vec4(_mm_or_ps(_mm_and_ps(m.m, a.v), _mm_andnot_ps(m.m, b.v)));
  }
  static Vec4 sqrt(Vec4 x) { return Vec4(_mm_sqrt_ps(x.v)); }
};

namespace {

constexpr int kLanes = 4;

Mask4 all_lanes(bool on) { return {_mm_castsi128_ps(_mm_set1_epi32(on ? -1 : 0))}; }

// Lanes l with l < n.
Mask4 first_lanes(int n) {
  return {_mm_castsi128_ps(_mm_cmplt_epi32(_mm_setr_epi32(0, 1, 2, 3), _mm_set1_epi32(n)))};
}

// Runs f(V(), k, right, down) over the plane's pixels by padded index k, kLanes at a time with
// V = Vec4, then with V = float for the rest of each row; right / down say whether the pixel
// has a neighbour to its right / below.
template <class F>
void each_pixel_vec(int h, int w, F f) {
  for (int i = 0; i < h; ++i) {
    const int k0 = flow_index(i, 0, w);
    const bool down = i + 1 < h;
    int j = 0;
    for (; j + kLanes <= w; j += kLanes) f(Vec4(), k0 + j, first_lanes(w - 1 - j), all_lanes(down));
    for (; j < w; ++j) f(0.0f, k0 + j, j + 1 < w, down);
  }
}

template <class F>
void each_pixel(int h, int w, F f) {
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; ++j) f(i, j);
}

// Partial sums of the parameter gradients: per lane (and for the rows' last pixels) in float
// over one iteration, then added to the plane's double sums, so that many iterations and
// large planes do not lose the small terms.
struct PartialSums {
  Vec4 lanes[kFlowSlots];
  float single[kFlowSlots];
  PartialSums() { clear(); }
  void clear() {
    std::fill(lanes, lanes + kFlowSlots, Vec4(0.0f));
    std::fill(single, single + kFlowSlots, 0.0f);
  }
  Vec4* of(Vec4) { return lanes; }
  float* of(float) { return single; }
  void flush_into(double* sums) {
    for (int t = 0; t < kFlowSlots; ++t) {
      alignas(16) float v[kLanes];
      _mm_store_ps(v, lanes[t].v);
      sums[t] += (double{v[0]} + v[1]) + (double{v[2]} + v[3]) + single[t];
    }
    clear();
  }
};

}  // namespace

void flow_forward_cpu(const FlowProblem& pb, const float* f1, const float* f2, float* out,
                      float* saved) {
  const int h = pb.h, w = pb.w, padded = flow_padded_size(h, w), stride = flow_stride(w);
  const int64_t hw = int64_t{h} * w, state_floats = kFlowStatePlanes * padded;
  const FlowScalars& s = pb.s;
  parallel_for(0, pb.planes, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> work(kFlowForwardPlanes * padded);
    const FlowForwardPlanes fp = flow_forward_planes(work.data(), padded);
    for (int64_t plane = begin; plane < end; ++plane) {
      std::fill(work.begin(), work.end(), 0.0f);
      each_pixel(h, w, [&](int i, int j) {
        flow_image_init(fp.im, f1 + plane * hw, f2 + plane * hw, h, w, i, j, s);
      });
      for (int it = 0; it < pb.n_iter; ++it) {
        if (saved)
          std::copy(work.data(), work.data() + state_floats,
                    saved + (plane * pb.n_iter + it) * state_floats);
        each_pixel_vec(h, w, [&](auto v, int k, auto, auto) {
          flow_relax<decltype(v)>(fp.im, fp.st, s, stride, k);
        });
        each_pixel_vec(h, w, [&](auto v, int k, auto right, auto down) {
          flow_dual_step<decltype(v)>(fp.st, s, stride, k, right, down);
        });
      }
      float* out1 = out + flow_out_offset(plane, pb.channels, hw);
      float* out2 = out1 + pb.channels * hw;
      each_pixel(h, w, [&](int i, int j) {
        out1[i * w + j] = fp.st.u1[flow_index(i, j, w)];
        out2[i * w + j] = fp.st.u2[flow_index(i, j, w)];
      });
    }
  });
}

void flow_backward_cpu(const FlowProblem& pb, const float* f1, const float* f2, const float* saved,
                       const float* grad_out, float* grad_f1, float* grad_f2, double* sums) {
  const int h = pb.h, w = pb.w, padded = flow_padded_size(h, w), stride = flow_stride(w);
  const int64_t hw = int64_t{h} * w, state_floats = kFlowStatePlanes * padded;
  const FlowScalars& s = pb.s;
  // Per-plane partials summed serially afterwards: the result does not depend on how the
  // planes were split between threads.
  std::vector<double> partials(pb.planes * kFlowSlots, 0.0);
  parallel_for(0, pb.planes, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> work(kFlowBackwardPlanes * padded);
    const FlowBackwardPlanes bp = flow_backward_planes(work.data(), padded);
    PartialSums partial;
    for (int64_t plane = begin; plane < end; ++plane) {
      std::fill(work.begin(), work.end(), 0.0f);
      const float* g1 = grad_out + flow_out_offset(plane, pb.channels, hw);
      each_pixel(h, w, [&](int i, int j) {
        flow_back_init(bp, f1 + plane * hw, f2 + plane * hw, g1, g1 + pb.channels * hw, h, w, i, j,
                       s);
      });
      double* plane_sums = partials.data() + plane * kFlowSlots;
      for (int it = pb.n_iter - 1; it >= 0; --it) {
        const FlowState st =
            flow_saved_state_at(saved + (plane * pb.n_iter + it) * state_floats, padded);
        each_pixel_vec(h, w, [&](auto v, int k, auto, auto) {
          flow_back_recompute<decltype(v)>(bp.im, st, bp.ad, s, stride, k);
        });
        each_pixel_vec(h, w, [&](auto v, int k, auto right, auto down) {
          flow_back_dual<decltype(v)>(st, bp.ad, s, stride, k, right, down, partial.of(v));
        });
        each_pixel_vec(h, w, [&](auto v, int k, auto, auto) {
          flow_back_grad<decltype(v)>(bp.ad, s, stride, k);
        });
        each_pixel_vec(h, w, [&](auto v, int k, auto, auto) {
          flow_back_relax<decltype(v)>(bp.im, st, bp.ad, s, stride, k, partial.of(v));
        });
        partial.flush_into(plane_sums);
      }
      each_pixel(h, w, [&](int i, int j) {
        flow_back_inputs(bp.ad, f2 + plane * hw, h, w, i, j, s, grad_f1 + plane * hw,
                         grad_f2 + plane * hw, partial.single);
      });
      partial.flush_into(plane_sums);
    }
  });
  std::fill(sums, sums + kFlowSlots, 0.0);
  for (int64_t plane = 0; plane < pb.planes; ++plane)
    for (int t = 0; t < kFlowSlots; ++t) sums[t] += partials[plane * kFlowSlots + t];
}

}  // namespace repflow::ops
