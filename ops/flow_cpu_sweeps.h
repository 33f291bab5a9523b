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

// A plane's rows in a working buffer of `size` floats: pixel (i, j) at index(i, j), every row
// on a vector boundary when the stride is a multiple of the vector width. The schedule uses two
// layouts (built in flow_cpu.cc):
// - the Sobel layout, for f2 with its replicated borders and the Sobel adjoint: rows of stride
//   at least W + 2, with at least one pad cell on each side of a row and two rows above and
//   below the plane, so that the Sobel adjoint of the pad cells reads zeros beyond them;
// - the iteration layout (FlowCpuGrid), for everything else: the rows back to back (stride W)
//   between zero rows, swept in whole vectors ("chunks") from pixel (0, 0) on. Without pad cells
//   between the rows, the chunks carry pixels in every lane but the last chunk's tail: at
//   28 x 28 and 16 lanes, 49 chunks a plane where rows padded to whole vectors took 56, and the
//   sweeps' time follows the chunk count (28 x 26 to 28 x 30 planes took the same time).
struct FlowCpuRows {
  int h, w, stride, origin, size;
  int index(int i, int j) const { return origin + i * stride + j; }
};

// Which lanes of a chunk of the iteration layout are pixels (`inside`), have a right neighbour
// inside the plane (`right`) and one below (`down`), a bit per lane.
struct FlowCpuChunkMasks {
  uint32_t inside, right, down;
};

// The iteration layout: stride W, `chunks` vectors from pixel (0, 0) on, and `lag`, the number
// of chunks after its own that a stencil reading one row down reaches into.
struct FlowCpuGrid : FlowCpuRows {
  int chunks, lag;
  const FlowCpuChunkMasks* masks;
};

// One vector width's sweeps: a plane's inputs (f2 into f2p, in the Sobel layout `sobel`, with its
// borders replicated into the pad cells, so that the sweeps read the Sobel stencil without
// clamping; rho_c = f2 - f1 into the iteration layout); the rows of a plane in layout `from`
// times `sign` (1 or -1: exact either way) into those of layout `to`, writing nothing past a
// row's end (unpadded tensors are the layout {h, w, w, 0, h * w}); a plane's image terms g and
// 1 / g2 from f2p; one forward iteration of a plane from the iterate `from` into `to` (other
// planes), with its p update only when `dual`; one backward iteration from its start iterate
// `st` and the iterate `next` it produced, where !dual says that the iteration's p' reaches
// nothing (the last iteration: the output is u alone), so that its reverse is B3 alone on the
// adjoint of u' already in ad.t, and `from_zero` that `st` is the zero start (whose p has no
// adjoint to pass back); the gradient of f2 into a plane in the Sobel layout, as the sum of the
// Sobel adjoint of each source cell and rho_c's adjoint, also on the pad cells (the caller
// adds those into the border pixels they replicate), with `scratch` three Sobel-layout planes whose
// pads are zero. The backward ones add their parameter-gradient partials to `sums`.
struct FlowCpuSweeps {
  int lanes;
  void (*load)(const float* f1, const float* f2, const FlowCpuRows& sobel, float* f2p,
               const FlowCpuGrid& g, float* rho_c);
  void (*rows)(const float* src, const FlowCpuRows& from, float sign, float* dst,
               const FlowCpuRows& to);
  void (*image)(const FlowImage& im, const FlowCpuGrid& g, const float* f2p,
                const FlowCpuRows& sobel, const FlowScalars& s);
  void (*forward)(const FlowImage& im, const FlowState& from, const FlowState& to,
                  const FlowScalars& s, const FlowCpuGrid& g, bool dual);
  void (*backward)(const FlowImage& im, const FlowState& st, const FlowState& next,
                   const FlowAdjoint& ad, const FlowScalars& s, const FlowCpuGrid& g,
                   bool from_zero, bool dual, bool grad_taps, double* sums);
  void (*inputs)(const FlowAdjoint& ad, const FlowCpuGrid& g, const float* f2p,
                 const FlowCpuRows& sobel, float* const scratch[3], const FlowScalars& s,
                 float* grad_f2p, bool sobel_taps, double* sums);
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
  // Lanes l whose bit l is set.
  static Mask from_bits(uint32_t bits) {
    Mask lane_bit;
    for (int l = 0; l < N; ++l) lane_bit[l] = 1 << l;
    return ((Mask{} + static_cast<int>(bits)) & lane_bit) != 0;
  }
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

// Chunks a sweep takes at a time (lead_follow).
constexpr int kBlock = 8;

// Runs f(k, right, down, inside) over chunks [first, end) of the iteration layout, k being the
// chunk's index and the masks flow_math.h's.
template <class V, class F>
void each_chunk(const FlowCpuGrid& g, int first, int end, F f) {
  using L = FlowLanes<V>;
  for (int c = first; c < end; ++c) {
    const FlowCpuChunkMasks m = g.masks[c];
    f(g.origin + c * L::kWidth, L::from_bits(m.right), L::from_bits(m.down),
      L::from_bits(m.inside));
  }
}

// Runs lead(first, end) over all chunks a block at a time and follow(first, end) over them
// `g.lag` chunks behind, as soon as the chunks a row below them have had lead: the sweeps of an
// iteration run back to back on the few rows they share while those are in L1.
template <class Lead, class Follow>
void lead_follow(const FlowCpuGrid& g, Lead lead, Follow follow) {
  for (int led = 0, followed = 0; followed < g.chunks;) {
    if (led < g.chunks) {
      const int end = led + kBlock < g.chunks ? led + kBlock : g.chunks;
      lead(led, end);
      led = end;
    }
    const int ready = led == g.chunks ? g.chunks : led - g.lag;
    if (ready > followed) {
      follow(followed, ready);
      followed = ready;
    }
  }
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

// Sweep B of a chunk needs sweep A of the chunks up to a row below it.
// (flatten: GCC otherwise leaves some of flow_math.h's formulas as calls per chunk, passing
// vectors through memory, which costs about 7%. The sweeps read the scalars from a local copy:
// GCC cannot tell that the stores into the planes leave the caller's FlowScalars alone, and
// reloaded and broadcast every tap and scalar once per chunk, which cost 14% of the forward.)
template <class V>
__attribute__((flatten)) void forward_iteration(const FlowImage& im, const FlowState& from,
                                                const FlowState& to, const FlowScalars& scalars,
                                                const FlowCpuGrid& g, bool dual) {
  const FlowScalars s = scalars;
  const int stride = g.stride;
  lead_follow(
      g,
      [&](int first, int end) {
        each_chunk<V>(g, first, end, [&](int k, auto, auto, auto inside) {
          flow_relax<V>(im, from, to, s, stride, k, inside);
        });
      },
      [&](int first, int end) {
        if (!dual) return;
        each_chunk<V>(g, first, end, [&](int k, auto right, auto down, auto) {
          flow_dual_step<V>(from, to, s, stride, k, right, down);
        });
      });
}

// B1 and B2 of a chunk need B1 of the chunks up to it (B2 reads a row up); B3 of a chunk needs B2
// of the chunks up to a row below it.
template <class V>
__attribute__((flatten)) void backward_iteration(const FlowImage& im, const FlowState& st,
                                                 const FlowState& next, const FlowAdjoint& ad,
                                                 const FlowScalars& scalars, const FlowCpuGrid& g,
                                                 bool from_zero, bool dual, bool grad_taps,
                                                 double* sums) {
  const FlowScalars s = scalars;
  const int stride = g.stride;
  PartialSums<V> partial;
  lead_follow(
      g,
      [&](int first, int end) {
        if (!dual) return;
        each_chunk<V>(g, first, end, [&](int k, auto right, auto down, auto) {
          flow_back_dual_next<V>(next, ad, s, stride, k, right, down, grad_taps, partial.acc);
        });
        each_chunk<V>(g, first, end,
                      [&](int k, auto, auto, auto) { flow_back_grad<V>(ad, s, stride, k); });
      },
      [&](int first, int end) {
        each_chunk<V>(g, first, end, [&](int k, auto right, auto down, auto) {
          flow_back_relax<V>(im, st, ad, s, stride, k, right, down, !from_zero, partial.acc);
        });
      });
  partial.flush_into(sums, 0, grad_taps ? kSlotSobelX : kSlotGradX);
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
                                          const FlowScalars& s) {
  using L = FlowLanes<V>;
  for (int i = 0; i < g.h; ++i)
    for (int j = 0; j < g.w; j += L::kWidth)
      flow_image_init_padded<V>(im, g.index(i, j), f2p, sobel.index(i, j), sobel.stride, s,
                                L::first(g.w - j));
}

template <class V>
__attribute__((flatten)) void input_grads(const FlowAdjoint& ad, const FlowCpuGrid& g,
                                          const float* f2p, const FlowCpuRows& sobel,
                                          float* const scratch[3], const FlowScalars& s,
                                          float* grad_f2p, bool sobel_taps, double* sums) {
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
    flow_back_inputs_inner<V>(arho, agx, agy, f2p, k, sobel.stride, s, grad_f2p, sobel_taps,
                              partial.acc);
  if (sobel_taps) partial.flush_into(sums, kSlotSobelX, kFlowSlots);
}

template <class V>
FlowCpuSweeps sweeps_of() {
  return {FlowLanes<V>::kWidth, load_inputs<V>,        copy_rows<V>,  image_terms<V>,
          forward_iteration<V>, backward_iteration<V>, input_grads<V>};
}

}  // namespace
}  // namespace repflow::ops
