#pragma once
// The CPU schedule's per-iteration sweeps over one plane, for every vector width the schedule
// picks between at run time (flow_cpu.cc). Each translation unit that includes this header
// instantiates the sweeps with the widths its compiler flags enable: flow_cpu.cc the baseline
// SSE, flow_cpu_avx2.cc and flow_cpu_avx512.cc the wider ones. The lane types sit in an
// anonymous namespace, so every flow_math.h template instantiated with them, and everything
// here, is local to its translation unit: a shared (weak) copy compiled for AVX-512 could
// otherwise be the one the linker keeps, also for callers on CPUs without it. For the same
// reason the sweeps use no library templates (std::fill and friends): only this header and
// flow_math.h's formulas run under the wider flags.
#include <immintrin.h>

#include "ops/flow/cpu/flow_cpu_types.h"
#include "ops/flow/flow_math.h"

namespace repflow::ops {

namespace {

// GCC vectors of N floats and of their comparison masks. (Spelt out per N: GCC cannot tell a
// vector_size typedef that depends on a template argument from its element type.)
template <int N>
struct VectorTypes;
#define REPFLOW_FLOW_VECTOR_TYPES(N)                       \
  template <>                                              \
  struct VectorTypes<N> {                                  \
    typedef float Raw __attribute__((vector_size(4 * N))); \
    typedef int Mask __attribute__((vector_size(4 * N)));  \
  };
REPFLOW_FLOW_VECTOR_TYPES(4)
REPFLOW_FLOW_VECTOR_TYPES(8)
REPFLOW_FLOW_VECTOR_TYPES(16)
#undef REPFLOW_FLOW_VECTOR_TYPES

// N adjacent pixels of a row (N = 4, 8, 16: an SSE, AVX or AVX-512 register).
template <int N>
struct Lanes {
  using Raw = typename VectorTypes<N>::Raw;
  using Mask = typename VectorTypes<N>::Mask;
  Raw v;
  Lanes() = default;
  // Broadcasts, as float literals in the formulas. (Not as Raw{} + x: x + 0 is not x when x is
  // -0, so GCC added the zero in every chunk where it rematerialised the constant.)
  Lanes(float x) {  // NOLINT
    for (int l = 0; l < N; ++l) v[l] = x;
  }
  explicit Lanes(Raw x) : v(x) {}
};

template <int N>
Lanes<N> operator+(Lanes<N> a, Lanes<N> b) {
  return Lanes<N>(a.v + b.v);
}
template <int N>
Lanes<N> operator-(Lanes<N> a, Lanes<N> b) {
  return Lanes<N>(a.v - b.v);
}
template <int N>
Lanes<N> operator*(Lanes<N> a, Lanes<N> b) {
  return Lanes<N>(a.v * b.v);
}
template <int N>
Lanes<N> operator/(Lanes<N> a, Lanes<N> b) {
  return Lanes<N>(a.v / b.v);
}
template <int N>
Lanes<N> operator-(Lanes<N> a) {
  return Lanes<N>(-a.v);
}
template <int N>
Lanes<N>& operator+=(Lanes<N>& a, Lanes<N> b) {
  return a = a + b;
}
template <int N>
typename Lanes<N>::Mask operator<(Lanes<N> a, Lanes<N> b) {
  return a.v < b.v;
}
template <int N>
typename Lanes<N>::Mask operator>(Lanes<N> a, Lanes<N> b) {
  return a.v > b.v;
}

}  // namespace

template <int N>
struct FlowLanes<Lanes<N>> {
  using V = Lanes<N>;
  using Mask = typename V::Mask;
  static constexpr int kWidth = N;
  static V load(const float* p) {
    V x;
    __builtin_memcpy(&x.v, p, sizeof x.v);
    return x;
  }
  static void store(float* p, V x) { __builtin_memcpy(p, &x.v, sizeof x.v); }
  // The first n floats at p (all N when n >= N) into the first lanes, zeros into the others;
  // reads nothing past them, as the end of a tensor may be there.
  static V load_first(const float* p, int n) {
    if (n >= N) return load(p);
    if constexpr (N == 16)
      return V(_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p));
    if constexpr (N == 8) return V(_mm256_maskload_ps(p, reinterpret_cast<__m256i>(first(n))));
    V x(0.0f);
    for (int l = 0; l < n; ++l) x.v[l] = p[l];
    return x;
  }
  // Stores the first n lanes (all N when n >= N) at p, nothing past them.
  static void store_first(float* p, int n, V x) {
    if (n >= N) return store(p, x);
    if constexpr (N == 16)
      return _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), x.v);
    if constexpr (N == 8) return _mm256_maskstore_ps(p, reinterpret_cast<__m256i>(first(n)), x.v);
    for (int l = 0; l < n; ++l) p[l] = x.v[l];
  }
  static V select(Mask m, V a, V b) { return V(m ? a.v : b.v); }
  static V sqrt(V x) {
    if constexpr (N == 4) return V(_mm_sqrt_ps(x.v));
    if constexpr (N == 8) return V(_mm256_sqrt_ps(x.v));
    // The masked form: GCC 12's _mm512_sqrt_ps trips -Wuninitialized in its own header.
    if constexpr (N == 16) return V(_mm512_maskz_sqrt_ps(0xffff, x.v));
  }
  // Lanes l with l < n.
  static Mask first(int n) {
    Mask index;
    for (int l = 0; l < N; ++l) index[l] = l;
    return index < n;
  }
  // Lanes l whose bit l is set.
  static Mask from_bits(uint32_t bits) {
    Mask lane_bit;
    for (int l = 0; l < N; ++l) lane_bit[l] = 1 << l;
    return ((Mask{} + static_cast<int>(bits)) & lane_bit) != 0;
  }
};

namespace {

// Runs lead(k, right, down, inside) over the chunks of the iteration layout and follow(k, right,
// down, inside) over them `behind` chunks later, chunk by chunk; k is the chunk's index and the
// masks are flow_math.h's. A follow that reads what lead wrote up to a row below needs `behind`
// > g.lag; every chunk more keeps those reads clear of stores still in flight (a load that
// straddles a pending store waits for it), and mixing the two sweeps chunk by chunk, rather
// than a block of chunks at a time, gives the out-of-order core independent work to overlap.
template <class V, class Lead, class Follow>
void skewed(const FlowCpuGrid& g, int behind, Lead lead, Follow follow) {
  using L = FlowLanes<V>;
  const auto at = [&](int c, auto f) {
    const FlowCpuChunkMasks m = g.masks[c];
    f(g.origin + c * L::kWidth, L::from_bits(m.right), L::from_bits(m.down),
      L::from_bits(m.inside));
  };
  for (int c = 0; c < g.chunks + behind; ++c) {
    if (c < g.chunks) at(c, lead);
    if (c >= behind) at(c - behind, follow);
  }
}

// How far behind lead a follow that reads a row below runs (skewed).
int follow_behind(const FlowCpuGrid& g) { return g.lag + 2; }

// Partial sums of the parameter gradients over one pass: per lane in float, then added lane by
// lane to the plane's double sums, so that many iterations and large planes do not lose the
// small terms.
template <class V>
struct PartialSums {
  V acc[kFlowSlots];
  PartialSums() {
    for (V& a : acc) a = V(0.0f);
  }
  // Into slots [first, last) of lane_sums (FlowCpuSweeps): the others were not summed into.
  // (A flush is a double addition per slot and lane, not small next to a pass over a small
  // plane: so it skips the slots a pass leaves alone, and leaves reducing the lanes to the
  // caller, once per plane.)
  void flush_into(double* lane_sums, int first, int last) {
    constexpr int n = FlowLanes<V>::kWidth;
    for (int t = first; t < last; ++t)
      for (int l = 0; l < n; ++l) lane_sums[t * n + l] += acc[t].v[l];
  }
};

// The dual sweep of a chunk needs the primal sweep of the chunks up to a row below it.
// (flatten: GCC otherwise leaves some of flow_math.h's formulas as calls per chunk, passing
// vectors through memory. The sweeps read the scalars from a local copy: GCC cannot tell that
// the stores into the planes leave the caller's FlowScalars alone, and would otherwise reload
// and broadcast every tap and scalar once per chunk.)
template <class V, bool kUnitGrad>
__attribute__((flatten)) void forward_sweeps(const FlowImage& im, const FlowState& from,
                                             const FlowState& to, const FlowScalars& caller_scalars,
                                             const FlowCpuGrid& g, bool dual) {
  const FlowScalars scalars = caller_scalars;
  const int stride = g.stride;
  skewed<V>(
      g, dual ? follow_behind(g) : 0,
      [&](int k, auto, auto, auto inside) {
        flow_primal_step<V>(im, from, to, scalars, stride, k, inside);
      },
      [&](int k, auto right, auto down, auto) {
        if (dual) flow_dual_step<V, kUnitGrad>(from, to, scalars, stride, k, right, down);
      });
}

// The sweeps in the kUnitGrad forms where the grad taps allow them (FlowScalars::unit_grad).
template <class V>
void forward_iteration(const FlowImage& im, const FlowState& from, const FlowState& to,
                       const FlowScalars& scalars, const FlowCpuGrid& g, bool dual) {
  if (scalars.unit_grad) return forward_sweeps<V, true>(im, from, to, scalars, g, dual);
  forward_sweeps<V, false>(im, from, to, scalars, g, dual);
}

// One component of the dual reverse at chunk k from u' (in plane `u`, at the pixel `uk`),
// P' = p' / s (q1, q2) and the adjoint (a1, a2) of P' in registers: stores the adjoint of the
// old P into (ap1, ap2) and that of grad(u') into (aux, auy).
template <class V, bool kUnitGrad>
void back_dual_one(const float* u, V uk, V q1, V q2, V a1, V a2, float* ap1, float* ap2, float* aux,
                   float* auy, const FlowScalars& scalars, int stride, int k, FlowMask<V> right,
                   FlowMask<V> down, bool grad_taps, V* acc) {
  using L = FlowLanes<V>;
  V gx, gy;
  flow_back_dual_values<V, kUnitGrad>(uk, L::load(u + k + 1), L::load(u + k + stride), q1, q2, true,
                                      right, down, scalars, grad_taps, a1, a2, gx, gy, acc);
  L::store(ap1 + k, a1);
  L::store(ap2 + k, a2);
  L::store(aux + k, gx);
  L::store(auy + k, gy);
}

// The primal reverse of iteration `it` and, when `dual` (it > 0), the dual reverse of iteration
// it - 1 at chunk k. Both read the iterate `st` that it - 1 produced and `it` started from (so
// the CPU needs no recompute pass), and the dual reverse takes the p adjoints that the primal
// reverse leaves at the pixel: loaded once and passed on in registers. Without `dual` (the first
// iteration, from the zero start), the primal reverse leaves its divergence part out: p is 0,
// so its tap partials are, and nothing reads the adjoint of that p.
template <class V, bool kUnitGrad>
void back_primal_dual(const FlowImage& im, const FlowState& st, const FlowAdjoint& ad,
                      const FlowScalars& scalars, int stride, int k, FlowMask<V> right,
                      FlowMask<V> down, bool dual, bool grad_taps, V* acc) {
  using L = FlowLanes<V>;
  // The adjoint of it's u' and the start u.
  const V au1 = L::load(ad.uprime1 + k), au2 = L::load(ad.uprime2 + k);
  const V u1 = L::load(st.u1 + k), u2 = L::load(st.u2 + k);
  if (!dual) return flow_back_threshold(im, ad, scalars, k, au1, au2, u1, u2, acc);
  const V p11 = L::load(st.p11 + k), p12 = L::load(st.p12 + k), p21 = L::load(st.p21 + k),
          p22 = L::load(st.p22 + k);
  V a11 = L::load(ad.p11 + k), a12 = L::load(ad.p12 + k), a21 = L::load(ad.p21 + k),
    a22 = L::load(ad.p22 + k);
  flow_back_div_values(au1, L::load(ad.uprime1 + k + 1), L::load(ad.uprime1 + k + stride),
                       L::load(st.p11 + k - 1), p11, L::load(st.p12 + k - stride), p12, right, down,
                       scalars, a11, a12, acc);
  flow_back_div_values(au2, L::load(ad.uprime2 + k + 1), L::load(ad.uprime2 + k + stride),
                       L::load(st.p21 + k - 1), p21, L::load(st.p22 + k - stride), p22, right, down,
                       scalars, a21, a22, acc);
  flow_back_threshold(im, ad, scalars, k, au1, au2, u1, u2, acc);
  back_dual_one<V, kUnitGrad>(st.u1, u1, p11, p12, a11, a12, ad.p11, ad.p12, ad.ux1, ad.uy1,
                              scalars, stride, k, right, down, grad_taps, acc);
  back_dual_one<V, kUnitGrad>(st.u2, u2, p21, p22, a21, a22, ad.p21, ad.p22, ad.ux2, ad.uy2,
                              scalars, stride, k, right, down, grad_taps, acc);
}

// One pass of the backward: the primal reverse of iteration `it` from its start iterate `st`,
// fused with the dual and grad reverses of iteration it - 1 when `dual` (back_primal_dual). The
// primal reverse reads the adjoint of it's u' (ad.uprime) up to a row ahead, which the grad
// reverse of it - 1 overwrites with the adjoint of that iteration's u': the grad reverse runs
// behind (skewed), so the primal reverse finds it's adjoint there. The grad reverse reads the
// dual reverse's results a row back and a cell left.
template <class V, bool kUnitGrad>
__attribute__((flatten)) void backward_sweeps(const FlowImage& im, const FlowState& st,
                                              const FlowAdjoint& ad,
                                              const FlowScalars& caller_scalars,
                                              const FlowCpuGrid& g, bool dual, bool grad_taps,
                                              double* lane_sums) {
  const FlowScalars scalars = caller_scalars;
  const int stride = g.stride;
  PartialSums<V> partial;
  skewed<V>(
      g, dual ? follow_behind(g) : 0,
      [&](int k, auto right, auto down, auto) {
        back_primal_dual<V, kUnitGrad>(im, st, ad, scalars, stride, k, right, down, dual, grad_taps,
                                       partial.acc);
      },
      [&](int k, auto, auto, auto) {
        if (dual) flow_back_grad<V, kUnitGrad>(ad, scalars, stride, k);
      });
  partial.flush_into(lane_sums, 0, grad_taps ? kSlotSobelX : kSlotGradX);
}

// As forward_iteration.
template <class V>
void backward_iteration(const FlowImage& im, const FlowState& st, const FlowAdjoint& ad,
                        const FlowScalars& scalars, const FlowCpuGrid& g, bool dual, bool grad_taps,
                        double* lane_sums) {
  if (scalars.unit_grad)
    return backward_sweeps<V, true>(im, st, ad, scalars, g, dual, grad_taps, lane_sums);
  backward_sweeps<V, false>(im, st, ad, scalars, g, dual, grad_taps, lane_sums);
}

// A layout whose rows are back to back (stride W: the iteration layout and the tensors) as one
// run of H * W floats: one row for copy_rows, without a partial vector per row.
inline FlowCpuRows as_run(const FlowCpuRows& r) {
  return {1, r.h * r.w, r.h * r.w, r.origin, r.size};
}

template <class V>
__attribute__((flatten)) void copy_rows(const float* src, const FlowCpuRows& plane_from, float sign,
                                        float* dst, const FlowCpuRows& plane_to) {
  using L = FlowLanes<V>;
  const bool runs = plane_from.stride == plane_from.w && plane_to.stride == plane_to.w;
  const FlowCpuRows from = runs ? as_run(plane_from) : plane_from;
  const FlowCpuRows to = runs ? as_run(plane_to) : plane_to;
  for (int i = 0; i < from.h; ++i)
    for (int j = 0; j < from.w; j += L::kWidth)
      L::store_first(dst + to.index(i, j), from.w - j,
                     V(sign) * L::load_first(src + from.index(i, j), from.w - j));
}

template <class V>
__attribute__((flatten)) void load_inputs(const float* f1, const float* f2,
                                          const FlowCpuRows& sobel, float* f2p,
                                          const FlowCpuGrid& g, float* rho_c) {
  using L = FlowLanes<V>;
  const int h = g.h, w = g.w;
  // Row by row, as a row's last vector zeroes the left pad of the next.
  for (int i = -1; i <= h; ++i) {
    const float* src = f2 + flow_clamp(i, h) * w;
    float* dst = f2p + sobel.index(i, 0);
    for (int j = 0; j < w; j += L::kWidth) L::store(dst + j, L::load_first(src + j, w - j));
    dst[-1] = src[0];
    dst[w] = src[w - 1];
  }
  const int hw = h * w;
  for (int q = 0; q < hw; q += L::kWidth)
    L::store_first(rho_c + g.index(0, q), hw - q,
                   L::load_first(f2 + q, hw - q) - L::load_first(f1 + q, hw - q));
}

// Row by row, whole vectors: a row's last one writes zeros past its end, into the next row,
// which follows.
template <class V>
__attribute__((flatten)) void image_terms(const FlowImage& im, const FlowCpuGrid& g,
                                          const float* f2p, const FlowCpuRows& sobel,
                                          const FlowScalars& scalars) {
  using L = FlowLanes<V>;
  for (int i = 0; i < g.h; ++i)
    for (int j = 0; j < g.w; j += L::kWidth)
      flow_image_init_padded<V>(im, g.index(i, j), f2p, sobel.index(i, j), sobel.stride, scalars,
                                L::first(g.w - j));
}

template <class V>
__attribute__((flatten)) void input_grads(const FlowAdjoint& ad, const FlowCpuGrid& g,
                                          const float* f2p, const FlowCpuRows& sobel,
                                          float* const scratch[3], const FlowScalars& scalars,
                                          float* grad_f2p, bool sobel_taps, double* lane_sums) {
  float* const arho = scratch[0];
  float* const agx = scratch[1];
  float* const agy = scratch[2];
  copy_rows<V>(ad.rho_c, g, 1.0f, arho, sobel);
  copy_rows<V>(ad.gx, g, 1.0f, agx, sobel);
  copy_rows<V>(ad.gy, g, 1.0f, agy, sobel);
  PartialSums<V> partial;
  // Every vector from the one that holds (-1, -1) to the end of row H: all the pad cells.
  for (int k = sobel.index(-1, 0) - FlowLanes<V>::kWidth; k < sobel.index(g.h + 1, 0);
       k += FlowLanes<V>::kWidth)
    flow_back_inputs_inner<V>(arho, agx, agy, f2p, k, sobel.stride, scalars, grad_f2p, sobel_taps,
                              partial.acc);
  if (sobel_taps) partial.flush_into(lane_sums, kSlotSobelX, kFlowSlots);
}

template <class V>
FlowCpuSweeps sweeps_of() {
  return {FlowLanes<V>::kWidth, load_inputs<V>,        copy_rows<V>,  image_terms<V>,
          forward_iteration<V>, backward_iteration<V>, input_grads<V>};
}

}  // namespace
}  // namespace repflow::ops
