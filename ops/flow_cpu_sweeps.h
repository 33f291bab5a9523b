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

#include "ops/flow_math.h"

namespace repflow::ops {

// The CPU schedule's layout of a padded plane: every row starts on a vector boundary (the
// working planes are vector-aligned), with at least one zero cell on each side of it, and the
// sweeps run over whole vectors, the last of a row reaching past its end (flow_math.h's
// `inside` masks keep those lanes zero). An H x W plane is index(i, j) = origin + i * stride + j
// within `size` floats, a multiple of the vector width, for -2 <= i <= H + 1: two rows above and
// below it, so that the Sobel adjoint of the pad cells reads zeros beyond them.
struct FlowCpuGrid {
  int h, w, stride, origin, size;
  int index(int i, int j) const { return origin + i * stride + j; }
};
inline FlowCpuGrid flow_cpu_grid(int h, int w, int lanes) {
  const int stride = (w + 2 + lanes - 1) / lanes * lanes;
  // The Sobel adjoint of the vector that holds (-1, -1) reads from one cell before row -2's
  // last vector on, and the last vector's reads below row H + 1 stay inside.
  const int origin = 2 * stride + 2 * lanes;
  return {h, w, stride, origin, origin + (h + 2) * stride + lanes};
}

// One vector width's sweeps: a plane's inputs into the grid (f2 into f2p with its borders
// replicated into the pad cells, so that the sweeps read the Sobel stencil without clamping,
// and rho_c = f2 - f1); the rows of an unpadded plane into the grid's rows, zeros past their
// ends; the grid's rows times `sign` (1 or -1: exact either way) out to an unpadded plane; a
// plane's image terms g and 1 / g2 from f2p; one forward iteration of a plane from the iterate
// `from` into `to` (other planes), with its p update only when `dual`; one backward iteration from
// its start iterate `st` and the iterate `next` it produced, where !dual says that the iteration's
// p' reaches nothing (the last iteration: the output is u alone), so that its reverse is B3 alone
// on the adjoint of u' already in ad.t, and `from_zero` that `st` is the zero start (whose p
// has no adjoint to pass back); the gradient of f2 into a padded plane, as the sum of the
// Sobel adjoint of each source cell and rho_c's adjoint, also on the pad cells (the caller
// gathers the sources of the border pixels). The backward ones add their parameter-gradient
// partials to `sums`.
struct FlowCpuSweeps {
  int lanes;
  void (*load)(const float* f1, const float* f2, const FlowCpuGrid& g, float* f2p, float* rho_c);
  void (*rows_in)(const float* src, const FlowCpuGrid& g, float* dst);
  void (*rows_out)(const float* src, const FlowCpuGrid& g, float sign, float* dst);
  void (*image)(const FlowImage& im, const float* f2p, const FlowScalars& s, const FlowCpuGrid& g);
  void (*forward)(const FlowImage& im, const FlowState& from, const FlowState& to,
                  const FlowScalars& s, const FlowCpuGrid& g, bool dual);
  void (*backward)(const FlowImage& im, const FlowState& st, const FlowState& next,
                   const FlowAdjoint& ad, const FlowScalars& s, const FlowCpuGrid& g,
                   bool from_zero, bool dual, bool grad_taps, double* sums);
  void (*inputs)(const FlowAdjoint& ad, const float* f2p, const FlowScalars& s,
                 const FlowCpuGrid& g, float* grad_f2p, bool sobel_taps, double* sums);
};
FlowCpuSweeps flow_cpu_sweeps_sse();
FlowCpuSweeps flow_cpu_sweeps_avx2();
FlowCpuSweeps flow_cpu_sweeps_avx512();

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
  Lanes(float x) : v(Raw{} + x) {}  // NOLINT: broadcasts, as float literals in the formulas
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
  static Mask all(bool on) { return Mask{} - static_cast<int>(on); }
  // Pairwise: a chain of log2(N) additions rather than N.
  static double sum(V x) {
    double lane[N];
    for (int l = 0; l < N; ++l) lane[l] = x.v[l];
    for (int half = N / 2; half > 0; half /= 2)
      for (int l = 0; l < half; ++l) lane[l] += lane[l + half];
    return lane[0];
  }
};

namespace {

// Runs f(V(), k, right, down, inside) over row i (0 <= i < h) a vector at a time, by padded
// index k; right / down say which lanes have a neighbour to their right / below inside the
// plane, `inside` which lanes are pixels of the plane (the last vector of a row reaches past it).
template <class V, class F>
void each_row_chunk(const FlowCpuGrid& g, int i, F f) {
  using L = FlowLanes<V>;
  const auto down = L::all(i + 1 < g.h);
  for (int j = 0; j < g.w; j += L::kWidth)
    f(V(), g.index(i, j), L::first(g.w - 1 - j), down, L::first(g.w - j));
}

// Rows the sweeps take at a time.
constexpr int kRowGroup = 4;

// Runs f as each_row_chunk does over rows i to i + kRowGroup - 1 that are below `end`: the same
// chunk of every row back to back. The rows' chunks are independent work that hides each
// other's latency (the dual step's square root and division chains): 9% faster than a row at a
// time.
template <class V, class F>
void each_row_group_chunk(const FlowCpuGrid& g, int i, int end, F f) {
  const int rows = end - i < kRowGroup ? end - i : kRowGroup;
  each_row_chunk<V>(g, i, [&](V v, int k, auto right, auto down, auto inside) {
    f(v, k, right, down, inside);
    for (int r = 1; r < rows; ++r)
      f(v, k + r * g.stride, right, FlowLanes<V>::all(i + r + 1 < g.h), inside);
  });
}

// Partial sums of the parameter gradients over one iteration: per lane in float, then added to
// the plane's double sums, so that many iterations and large planes do not lose the small
// terms.
template <class V>
struct PartialSums {
  V acc[kFlowSlots];
  PartialSums() {
    for (V& a : acc) a = V(0.0f);
  }
  // Slots [first, last): the others were not summed into. (Flushing all of them every
  // iteration took a fifth of the backward.)
  void flush_into(double* sums, int first, int last) {
    for (int t = first; t < last; ++t) sums[t] += FlowLanes<V>::sum(acc[t]);
  }
};

// The sweeps of an iteration run row by row, each as far as the rows it reads allow, so that
// the rows they share are still in L1: sweep B of row i needs sweep A of row i + 1.
// (flatten: GCC otherwise leaves some of flow_math.h's formulas as calls per chunk, passing
// vectors through memory, which costs about 7%. The sweeps read the scalars from a local copy:
// GCC cannot tell that the stores into the planes leave the caller's FlowScalars alone, and
// reloaded and broadcast every tap and scalar once per chunk, which cost 14% of the forward.)
template <class V>
__attribute__((flatten)) void forward_iteration(const FlowImage& im, const FlowState& from,
                                                const FlowState& to, const FlowScalars& scalars,
                                                const FlowCpuGrid& g, bool dual) {
  const FlowScalars s = scalars;
  const int stride = g.stride, h = g.h;
  const auto relax = [&](V, int k, auto, auto, auto inside) {
    flow_relax<V>(im, from, to, s, stride, k, inside);
  };
  each_row_chunk<V>(g, 0, relax);
  for (int i = 1; i <= h; i += kRowGroup) {
    if (i < h) each_row_group_chunk<V>(g, i, h, relax);
    if (dual)
      each_row_group_chunk<V>(g, i - 1, h, [&](V, int k, auto right, auto down, auto) {
        flow_dual_step<V>(from, to, s, stride, k, right, down);
      });
  }
}

// B1 and B2 of row i need B1 of rows i and i - 1; B3 of row i needs B2 of row i + 1. (Rows go in
// groups, as in the forward.)
template <class V>
__attribute__((flatten)) void backward_iteration(const FlowImage& im, const FlowState& st,
                                                 const FlowState& next, const FlowAdjoint& ad,
                                                 const FlowScalars& scalars, const FlowCpuGrid& g,
                                                 bool from_zero, bool dual, bool grad_taps,
                                                 double* sums) {
  const FlowScalars s = scalars;
  const int stride = g.stride, h = g.h;
  PartialSums<V> partial;
  for (int i = 0; i <= h; i += kRowGroup) {
    if (i < h && dual) {
      each_row_group_chunk<V>(g, i, h, [&](V, int k, auto right, auto down, auto) {
        flow_back_dual_next<V>(next, ad, s, stride, k, right, down, grad_taps, partial.acc);
      });
      each_row_group_chunk<V>(
          g, i, h, [&](V, int k, auto, auto, auto) { flow_back_grad<V>(ad, s, stride, k); });
    }
    // The rows from the first not yet reversed (i - 1) to i + kRowGroup - 2: their next rows have
    // had B2.
    const int first = i > 0 ? i - 1 : 0, end = i + kRowGroup - 1;
    if (first < h)
      each_row_group_chunk<V>(g, first, end < h ? end : h, [&](V, int k, auto, auto, auto inside) {
        flow_back_relax<V>(im, st, ad, s, stride, k, inside, !from_zero, partial.acc);
      });
  }
  partial.flush_into(sums, 0, grad_taps ? kSlotSobelX : kSlotGradX);
}

template <class V>
__attribute__((flatten)) void load_inputs(const float* f1, const float* f2, const FlowCpuGrid& g,
                                          float* f2p, float* rho_c) {
  using L = FlowLanes<V>;
  const int h = g.h, w = g.w;
  // Row by row, as a row's last vector zeroes the left pad of the next.
  for (int i = -1; i <= h; ++i) {
    const float* src = f2 + flow_clamp(i, h) * w;
    float* dst = f2p + g.index(i, 0);
    for (int j = 0; j < w; j += L::kWidth) L::store(dst + j, L::load_first(src + j, w - j));
    dst[-1] = src[0];
    dst[w] = src[w - 1];
  }
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; j += L::kWidth)
      L::store(rho_c + g.index(i, j),
               L::load_first(f2 + i * w + j, w - j) - L::load_first(f1 + i * w + j, w - j));
}

template <class V>
__attribute__((flatten)) void rows_in(const float* src, const FlowCpuGrid& g, float* dst) {
  using L = FlowLanes<V>;
  for (int i = 0; i < g.h; ++i)
    for (int j = 0; j < g.w; j += L::kWidth)
      L::store(dst + g.index(i, j), L::load_first(src + i * g.w + j, g.w - j));
}

template <class V>
__attribute__((flatten)) void rows_out(const float* src, const FlowCpuGrid& g, float sign,
                                       float* dst) {
  using L = FlowLanes<V>;
  for (int i = 0; i < g.h; ++i)
    for (int j = 0; j < g.w; j += L::kWidth)
      L::store_first(dst + i * g.w + j, g.w - j, V(sign) * L::load(src + g.index(i, j)));
}

template <class V>
__attribute__((flatten)) void image_terms(const FlowImage& im, const float* f2p,
                                          const FlowScalars& s, const FlowCpuGrid& g) {
  for (int i = 0; i < g.h; ++i)
    each_row_chunk<V>(g, i, [&](V, int k, auto, auto, auto inside) {
      flow_image_init_padded<V>(im, f2p, k, g.stride, s, inside);
    });
}

template <class V>
__attribute__((flatten)) void input_grads(const FlowAdjoint& ad, const float* f2p,
                                          const FlowScalars& s, const FlowCpuGrid& g,
                                          float* grad_f2p, bool sobel_taps, double* sums) {
  PartialSums<V> partial;
  // Every vector from the one that holds (-1, -1) to the end of row H: all the pad cells.
  for (int k = g.index(-1, 0) - FlowLanes<V>::kWidth; k < g.index(g.h + 1, 0);
       k += FlowLanes<V>::kWidth)
    flow_back_inputs_inner<V>(ad, f2p, k, g.stride, s, grad_f2p, sobel_taps, partial.acc);
  if (sobel_taps) partial.flush_into(sums, kSlotSobelX, kFlowSlots);
}

template <class V>
FlowCpuSweeps sweeps_of() {
  return {FlowLanes<V>::kWidth, load_inputs<V>,        rows_in<V>,    rows_out<V>, image_terms<V>,
          forward_iteration<V>, backward_iteration<V>, input_grads<V>};
}

}  // namespace
}  // namespace repflow::ops
