#pragma once
// Per-pixel formulas of the representation flow op (definition in ops/flow/flow.h) and of its exact
// reverse: the single source of truth that the CPU loops and the CUDA kernels both run. Only the
// order in which pixels are visited, and where the planes live, differ between schedules.
//
// The iterations carry P = p / s, s = tau / theta, in place of ops/flow/flow.h's dual variable p:
// the same iterates u, from
//   u' = v + tau div(P),   P' = (P + grad u') / (1 + s |grad u'|),
// as theta s = tau. This leaves fewer multiplications by s (two fewer per component in the
// forward, one fewer in the reverse of the p update, none in the reverse of grad u'), and the
// CPU sweeps are bound by the multiply-add pipes.
//
// The forward computes the image terms (g, 1 / g2 and rho_c: flow_image_init) once per plane,
// then runs two sweeps per iteration: the primal sweep, u' from the thresholding and tau div(P)
// (Eq. 2-4, flow_primal_step), and the dual sweep, P' from grad u' (Eq. 5, flow_dual_step). The
// backward reverses an iteration in passes named for what they reverse:
//   the recompute pass  u' again, where the iterate after the iteration is not at hand
//                       (flow_back_recompute);
//   the dual reverse    the dual sweep's: the adjoints of the old P and of grad u'
//                       (flow_back_dual);
//   the grad reverse    that of grad u': the whole adjoint of u' (flow_back_grad);
//   the primal reverse  the primal sweep's: the adjoints of the start u, of P and of the image
//                       terms (flow_back_primal).
//
// The stencils below read neighbours without bounds tests, which keeps the CPU inner loops
// branch-free. The CUDA kernels pad every working plane by one zero cell on each side
// (flow_index); the CPU's iteration planes put the rows back to back, between zero rows
// (flow_cpu_sweeps.h). On either, reads above or below the plane find zeros; reads left of a
// row's first pixel find a zero pad or the previous row's last pixel, where the x components of
// p and the adjoints of grad_x u are always zero (that component of grad u is fixed at 0 there);
// and whatever is read right of a row's last pixel or below its last row is masked off (the
// `right` and `down` masks). Cells off the plane are zeroed once and only ever written zeros.
#include <cmath>
#include <cstdint>
#include <utility>

#include "framework/hostdev.h"

namespace repflow::ops {

// The epsilons of ops/flow/flow.h: in g2 and in |grad u|.
constexpr float kFlowG2Eps = 1e-12f;
constexpr float kFlowNormEps = 1e-12f;

// ---- The parameters ----------------------------------------------------------------------
// The op's nine parameters, defined once here: kFlowParamTable lists them in the order of the
// enum, which is the order of the op's inputs after f1 and f2 and of FlowBlock's registered
// parameters (checkpoints name them). Everything else reaches them by name (FlowParam).
enum class FlowParam : int {
  kTheta,
  kLambda,
  kTau,
  kDivX,
  kDivY,
  kGradX,
  kGradY,
  kSobelX,
  kSobelY
};
constexpr int kFlowParamCount = 9;

// The parameter groups of the paper's Table 2, which are learned or held fixed together.
enum class FlowParamGroup : int {
  kTlt,    // "tlt": tau, lambda and theta
  kDiv,    // "div": the divergence taps
  kGrad,   // "grad": the forward-difference taps of grad u
  kSobel,  // "sobel": the Sobel kernels of the image gradient g
};
constexpr int kFlowParamGroupCount = 4;
// The groups' names, in enum order (model options and checkpoints spell them so).
constexpr const char* kFlowParamGroupNames[kFlowParamGroupCount] = {"tlt", "div", "grad", "sobel"};

struct FlowParamSpec {
  FlowParam id;
  const char* name;  // in the op's messages, and FlowBlock's parameter name
  int rank;          // 0: a scalar, of shape [] or [1]; else the shape is dims[0..rank)
  int dims[2];
  FlowParamGroup group;
  // Whether its gradient is summed per value in partial-sum slots of its own (the taps), rather
  // than assembled from the slots of the products it enters (theta, lambda, tau).
  bool tap_slots;
  float defaults[9];  // row-major; numel() of them
  constexpr int numel() const { return rank == 0 ? 1 : rank == 1 ? dims[0] : dims[0] * dims[1]; }
};

// The paper's defaults: Sobel / 8 (so that g is the derivative in intensity per pixel),
// divergence and gradient taps [-1, 1] (backward and forward differences).
constexpr float kFlowSobelEighth = 1.0f / 8.0f;
constexpr FlowParamSpec kFlowParamTable[kFlowParamCount] = {
    {FlowParam::kTheta, "theta", 0, {}, FlowParamGroup::kTlt, false, {0.3f}},
    {FlowParam::kLambda, "lambda", 0, {}, FlowParamGroup::kTlt, false, {0.15f}},
    {FlowParam::kTau, "tau", 0, {}, FlowParamGroup::kTlt, false, {0.25f}},
    {FlowParam::kDivX, "div_x", 1, {2}, FlowParamGroup::kDiv, true, {-1.0f, 1.0f}},
    {FlowParam::kDivY, "div_y", 1, {2}, FlowParamGroup::kDiv, true, {-1.0f, 1.0f}},
    {FlowParam::kGradX, "grad_x", 1, {2}, FlowParamGroup::kGrad, true, {-1.0f, 1.0f}},
    {FlowParam::kGradY, "grad_y", 1, {2}, FlowParamGroup::kGrad, true, {-1.0f, 1.0f}},
    {FlowParam::kSobelX,
     "sobel_x",
     2,
     {3, 3},
     FlowParamGroup::kSobel,
     true,
     {-kFlowSobelEighth, 0.0f, kFlowSobelEighth, -2 * kFlowSobelEighth, 0.0f, 2 * kFlowSobelEighth,
      -kFlowSobelEighth, 0.0f, kFlowSobelEighth}},
    {FlowParam::kSobelY,
     "sobel_y",
     2,
     {3, 3},
     FlowParamGroup::kSobel,
     true,
     {-kFlowSobelEighth, -2 * kFlowSobelEighth, -kFlowSobelEighth, 0.0f, 0.0f, 0.0f,
      kFlowSobelEighth, 2 * kFlowSobelEighth, kFlowSobelEighth}},
};

constexpr int flow_param_index(FlowParam p) { return static_cast<int>(p); }
constexpr const FlowParamSpec& flow_param_spec(FlowParam p) {
  return kFlowParamTable[flow_param_index(p)];
}

constexpr bool flow_param_table_in_enum_order() {
  for (int k = 0; k < kFlowParamCount; ++k)
    if (flow_param_index(kFlowParamTable[k].id) != k) return false;
  return true;
}
static_assert(flow_param_table_in_enum_order(), "kFlowParamTable must list FlowParam in order");

// f(the member of `holder` for `p`): the one mapping from FlowParam to member names, for the
// structs that hold a member per parameter under the table's names (FlowParamValues, FlowParams).
template <class S, class F>
RF_HD auto flow_param_member(S& holder, FlowParam p, F f) -> decltype(f(holder.theta)) {
  switch (p) {
    case FlowParam::kTheta:
      return f(holder.theta);
    case FlowParam::kLambda:
      return f(holder.lambda);
    case FlowParam::kTau:
      return f(holder.tau);
    case FlowParam::kDivX:
      return f(holder.div_x);
    case FlowParam::kDivY:
      return f(holder.div_y);
    case FlowParam::kGradX:
      return f(holder.grad_x);
    case FlowParam::kGradY:
      return f(holder.grad_y);
    case FlowParam::kSobelX:
      return f(holder.sobel_x);
    case FlowParam::kSobelY:
      return f(holder.sobel_y);
  }
  return f(holder.theta);  // not reached: the cases cover FlowParam
}

// Calls f(std::integral_constant<int, k>) for every table entry k in order: the table loop that
// device code can run too, as it may not index kFlowParamTable at run time but may read the
// entry `constexpr FlowParamSpec spec = kFlowParamTable[decltype(k)::value]`.
template <class F, int... K>
RF_HD void flow_for_each_param(F&& f, std::integer_sequence<int, K...>) {
  (f(std::integral_constant<int, K>{}), ...);
}
template <class F>
RF_HD void flow_for_each_param(F&& f) {
  flow_for_each_param(f, std::make_integer_sequence<int, kFlowParamCount>{});
}

// Where every parameter's values (or their gradients) lie, in table order: the parameter
// tensors' data on the op's device, passed by value to the schedules and kernels. A null entry
// of a gradient is one that is not wanted.
template <class T>
struct FlowParamPointers {
  T* values[kFlowParamCount];
  RF_HD T* at(FlowParam p) const { return values[flow_param_index(p)]; }
};

// The first of the values a member holds: the value of a scalar, the first of an array.
struct FlowFirstValue {
  template <class T>
  RF_HD T* operator()(T& value) const {
    return &value;
  }
  template <class T, int N>
  RF_HD T* operator()(T (&values)[N]) const {
    return values;
  }
};

// The values of the parameters (of their gradients, for flow_param_grads), each under its name.
struct FlowParamValues {
  float theta, lambda, tau;
  float div_x[2], div_y[2], grad_x[2], grad_y[2];
  float sobel_x[9], sobel_y[9];  // row-major 3x3
  // The values of `p`: flow_param_spec(p).numel() of them.
  RF_HD float* at(FlowParam p) { return flow_param_member(*this, p, FlowFirstValue{}); }
  RF_HD const float* at(FlowParam p) const { return flow_param_member(*this, p, FlowFirstValue{}); }
};

// The parameter values as the schedules read them, and the products of them that the formulas
// use (set by flow_set_products): computed once per call, not per pixel, where GCC recomputed
// and broadcast them in every chunk of the CPU sweeps once those ran short of vector registers.
struct FlowScalars : FlowParamValues {
  float step;  // s = tau / theta, the dual step
  float lt;    // lambda * theta, the thresholding bound
  float tau_div_x[2], tau_div_y[2];
  // Whether the grad taps are the fixed differences (-1, 1) of the default: the CPU sweeps then
  // run the formulas' kUnitGrad forms (flow_grad_values), which give the same bits.
  bool unit_grad;
};

RF_HD void flow_set_products(FlowScalars& scalars) {
  scalars.step = scalars.tau / scalars.theta;
  scalars.lt = scalars.lambda * scalars.theta;
  for (int j = 0; j < 2; ++j) {
    scalars.tau_div_x[j] = scalars.tau * scalars.div_x[j];
    scalars.tau_div_y[j] = scalars.tau * scalars.div_y[j];
  }
  scalars.unit_grad = scalars.grad_x[0] == -1.0f && scalars.grad_x[1] == 1.0f &&
                      scalars.grad_y[0] == -1.0f && scalars.grad_y[1] == 1.0f;
}

// The parameters' values as they lie in `params`, and their products.
RF_HD FlowScalars flow_scalars_from(const FlowParamPointers<const float>& params) {
  FlowScalars scalars{};
  flow_for_each_param([&](auto k) {
    constexpr FlowParamSpec spec = kFlowParamTable[decltype(k)::value];
    for (int e = 0; e < spec.numel(); ++e) scalars.at(spec.id)[e] = params.at(spec.id)[e];
  });
  flow_set_products(scalars);
  return scalars;
}

// Slots of the per-plane partial sums from which the parameter gradients are assembled: first
// the adjoints of the products lambda * theta and s = tau / theta (where s scales the p update),
// then one per value of every parameter with tap_slots, in table order (those of the divergence
// taps without their factor tau). The adjoint of tau where it multiplies div(P) needs no slot of
// its own: it is the sum over the divergence taps of tap times the tap's slot.
constexpr int kFlowProductSlots = 2;
// The slots before those of table entry k (all of them for k = kFlowParamCount).
constexpr int flow_slots_before(int k) {
  int slots = kFlowProductSlots;
  for (int e = 0; e < k; ++e)
    if (kFlowParamTable[e].tap_slots) slots += kFlowParamTable[e].numel();
  return slots;
}
// The first slot of `p`'s values (-1 without tap_slots).
constexpr int flow_param_slot(FlowParam p) {
  return flow_param_spec(p).tap_slots ? flow_slots_before(flow_param_index(p)) : -1;
}

enum FlowGradSlot : int {
  kSlotLambdaTheta = 0,
  kSlotStep = 1,
  kSlotDivX = flow_param_slot(FlowParam::kDivX),
  kSlotDivY = flow_param_slot(FlowParam::kDivY),
  kSlotGradX = flow_param_slot(FlowParam::kGradX),
  kSlotGradY = flow_param_slot(FlowParam::kGradY),
  kSlotSobelX = flow_param_slot(FlowParam::kSobelX),
  kSlotSobelY = flow_param_slot(FlowParam::kSobelY),
  kFlowSlots = flow_slots_before(kFlowParamCount)
};
// The CPU sweeps flush the slots in ranges (flow_cpu_sweeps.h): the products and the divergence
// taps, then the grad taps (when wanted), then the Sobel taps (when wanted).
constexpr bool flow_slots_follow(FlowParam p, int next) {
  return flow_param_slot(p) + flow_param_spec(p).numel() == next;
}
static_assert(kSlotDivX == kFlowProductSlots && flow_slots_follow(FlowParam::kDivX, kSlotDivY) &&
                  flow_slots_follow(FlowParam::kDivY, kSlotGradX) &&
                  flow_slots_follow(FlowParam::kGradX, kSlotGradY) &&
                  flow_slots_follow(FlowParam::kGradY, kSlotSobelX) &&
                  flow_slots_follow(FlowParam::kSobelX, kSlotSobelY) &&
                  flow_slots_follow(FlowParam::kSobelY, kFlowSlots),
              "the slot ranges that the sweeps flush must stay contiguous");

RF_HD int flow_stride(int w) { return w + 2; }
RF_HD int flow_padded_size(int h, int w) { return (h + 2) * (w + 2); }
RF_HD int flow_index(int i, int j, int w) { return (i + 1) * (w + 2) + j + 1; }
RF_HD int flow_clamp(int i, int n) { return i < 0 ? 0 : (i >= n ? n - 1 : i); }

// One plane's image terms, padded: g, rho_c, and the per-pixel constant of the thresholding,
// 1 / g2 (computed once per plane rather than once per iteration).
struct FlowImage {
  float* gx;
  float* gy;
  float* rho_c;
  float* inv_g2;
};
constexpr int kFlowImagePlanes = 4;

// One plane's iterate (u, P), padded, P = p / s (the p11..p22 planes). These six planes are
// contiguous in this order, both in the working memory and in the state saved for the backward.
struct FlowState {
  float* u1;
  float* u2;
  float* p11;
  float* p12;
  float* p21;
  float* p22;
};
constexpr int kFlowStatePlanes = 6;

constexpr int kFlowForwardPlanes = kFlowStatePlanes + kFlowImagePlanes;

RF_HD FlowState flow_state_at(float* base, int padded) {
  float* f[kFlowStatePlanes];
  for (int k = 0; k < kFlowStatePlanes; ++k) f[k] = base + k * padded;
  return {f[0], f[1], f[2], f[3], f[4], f[5]};
}
// The saved start state of an iteration: only read by the backward, which shares the sweep
// functions (and so the FlowState type) with the forward.
RF_HD FlowState flow_saved_state_at(const float* base, int padded) {
  return flow_state_at(const_cast<float*>(base), padded);
}
RF_HD FlowImage flow_image_at(float* base, int padded) {
  return {base, base + padded, base + 2 * padded, base + 3 * padded};
}

// One plane's adjoints during the backward, padded. `uprime1`, `uprime2` hold the primal sweep's
// u' of the iteration being reversed: its value (from the recompute pass) until the dual reverse
// has read it, then its adjoint (from the grad reverse on); ux1..uy2 hold the adjoints of grad u'
// and u1..p22 those of the iterate; gx, gy, rho_c accumulate over all iterations.
struct FlowAdjoint {
  float* uprime1;
  float* uprime2;
  float* ux1;
  float* uy1;
  float* ux2;
  float* uy2;
  float* u1;
  float* u2;
  float* p11;
  float* p12;
  float* p21;
  float* p22;
  float* gx;
  float* gy;
  float* rho_c;
};
constexpr int kFlowAdjointPlanes = 15;
constexpr int kFlowBackwardPlanes = kFlowAdjointPlanes + kFlowImagePlanes;

RF_HD FlowAdjoint flow_adjoint_at(float* base, int padded) {
  float* f[kFlowAdjointPlanes];
  for (int k = 0; k < kFlowAdjointPlanes; ++k) f[k] = base + k * padded;
  return {f[0], f[1], f[2],  f[3],  f[4],  f[5],  f[6], f[7],
          f[8], f[9], f[10], f[11], f[12], f[13], f[14]};
}

// The working planes of the forward (iterate first, so that it can be saved as one block) and
// of the backward.
struct FlowForwardPlanes {
  FlowState st;
  FlowImage im;
};
RF_HD FlowForwardPlanes flow_forward_planes(float* base, int padded) {
  return {flow_state_at(base, padded), flow_image_at(base + kFlowStatePlanes * padded, padded)};
}
struct FlowBackwardPlanes {
  FlowImage im;
  FlowAdjoint ad;
};
RF_HD FlowBackwardPlanes flow_backward_planes(float* base, int padded) {
  return {flow_image_at(base, padded), flow_adjoint_at(base + kFlowImagePlanes * padded, padded)};
}

// Offset of the x-flow plane of `plane` in the (N, 2C, H, W) output; the y-flow plane follows
// C planes later.
RF_HD int64_t flow_out_offset(int64_t plane, int64_t channels, int64_t hw) {
  return (plane / channels * 2 * channels + plane % channels) * hw;
}

// ---- Value types ------------------------------------------------------------------------
// The iteration formulas below are templates on the value type V: float (one pixel: a CUDA
// thread, or the CPU at the end of a row), or on the CPU a vector of adjacent pixels of one row
// (flow_cpu.cc). FlowLanes<V> supplies what differs: loads and stores at a padded index, the
// mask type of comparisons, select and sqrt. The arithmetic is IEEE either way, so both give
// the same bits.
template <class V>
struct FlowLanes;

template <>
struct FlowLanes<float> {
  using Mask = bool;
  static RF_HD float load(const float* p) { return *p; }
  static RF_HD void store(float* p, float v) { *p = v; }
  static RF_HD float select(bool m, float a, float b) { return m ? a : b; }
  static RF_HD float sqrt(float x) { return sqrtf(x); }
};

template <class V>
using FlowMask = typename FlowLanes<V>::Mask;

// ---- Image terms -------------------------------------------------------------------------

template <class V>
RF_HD V flow_g2(V gx, V gy) {
  return gx * gx + gy * gy + V(kFlowG2Eps);
}

// g = (sobel_x, sobel_y) cross-correlated with f2 at one pixel; at(a, b) reads f2 at row offset
// a - 1 and column offset b - 1, replicated borders resolved.
template <class V, class At>
RF_HD void flow_sobel(const FlowScalars& scalars, At at, V& gx, V& gy) {
  gx = V(0.0f);
  gy = V(0.0f);
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      const V v = at(a, b);
      gx += V(scalars.sobel_x[a * 3 + b]) * v;
      gy += V(scalars.sobel_y[a * 3 + b]) * v;
    }
  }
}

// Stores the image terms that come from g at padded index k: g and 1 / g2.
template <class V>
RF_HD void flow_image_store_g(const FlowImage& im, int k, V gx, V gy) {
  using L = FlowLanes<V>;
  L::store(im.gx + k, gx);
  L::store(im.gy + k, gy);
  L::store(im.inv_g2 + k, V(1.0f) / flow_g2(gx, gy));
}

// The image terms at (i, j) from the unpadded planes f1, f2.
RF_HD void flow_image_init(const FlowImage& im, const float* f1, const float* f2, int h, int w,
                           int i, int j, const FlowScalars& scalars) {
  float gx, gy;
  flow_sobel<float>(
      scalars,
      [&](int a, int b) { return f2[flow_clamp(i + a - 1, h) * w + flow_clamp(j + b - 1, w)]; }, gx,
      gy);
  const int k = flow_index(i, j, w);
  flow_image_store_g<float>(im, k, gx, gy);
  im.rho_c[k] = f2[i * w + j] - f1[i * w + j];
}

// The image terms from g at index k of im, from f2p at index ks: f2 in a padded layout (row
// stride `stride`) with its borders replicated into the pad cells. Lanes outside the plane (not
// `inside`) store zeros.
template <class V>
RF_HD void flow_image_init_padded(const FlowImage& im, int k, const float* f2p, int ks, int stride,
                                  const FlowScalars& scalars, FlowMask<V> inside) {
  using L = FlowLanes<V>;
  V gx, gy;
  flow_sobel<V>(
      scalars, [&](int a, int b) { return L::load(f2p + ks + (a - 1) * stride + b - 1); }, gx, gy);
  flow_image_store_g<V>(im, k, L::select(inside, gx, V(0.0f)), L::select(inside, gy, V(0.0f)));
}

// Away from the borders, the adjoint of the Sobel filtering at the input pixel of padded index
// k: tap (a, b) reaches it from the output at offset (1 - a, 1 - b) alone.
template <class V>
RF_HD V flow_sobel_adjoint_inner(const float* ax, const float* ay, int k, int stride,
                                 const FlowScalars& scalars) {
  using L = FlowLanes<V>;
  V sum(0.0f);
  for (int a = 2; a >= 0; --a) {
    for (int b = 2; b >= 0; --b) {
      const int o = k + (1 - a) * stride + 1 - b;
      sum += V(scalars.sobel_x[a * 3 + b]) * L::load(ax + o) +
             V(scalars.sobel_y[a * 3 + b]) * L::load(ay + o);
    }
  }
  return sum;
}

// The adjoint of the Sobel filtering at source cell (r, c) of the padded f2 (-1 <= r <= h,
// -1 <= c <= w) at padded index k: the taps that reach it from outputs inside the plane, in
// flow_sobel_adjoint_inner's order.
RF_HD float flow_sobel_adjoint_source(const float* ax, const float* ay, int h, int w, int stride,
                                      int k, int r, int c, const FlowScalars& scalars) {
  float sum = 0.0f;
  for (int a = 2; a >= 0; --a) {
    if (r + 1 - a < 0 || r + 1 - a >= h) continue;
    for (int b = 2; b >= 0; --b) {
      if (c + 1 - b < 0 || c + 1 - b >= w) continue;
      const int o = k + (1 - a) * stride + 1 - b;
      sum += scalars.sobel_x[a * 3 + b] * ax[o] + scalars.sobel_y[a * 3 + b] * ay[o];
    }
  }
  return sum;
}

// Calls f(source row, source column) for every cell of the padded f2 that holds input pixel
// (r, c)'s value: its own cell and, on the borders of the plane, the replicated pad cells beyond
// them (own cell first).
template <class F>
RF_HD void flow_replicated_sources(int h, int w, int r, int c, F f) {
  const int rows[3] = {r, r == 0 ? -1 : r, r + 1 == h ? h : r};
  const int cols[3] = {c, c == 0 ? -1 : c, c + 1 == w ? w : c};
  for (int x = 0; x < 3; ++x) {
    if (x > 0 && rows[x] == r) continue;
    for (int y = 0; y < 3; ++y)
      if (y == 0 || cols[y] != c) f(rows[x], cols[y]);
  }
}

// The adjoint of the Sobel filtering with replicated borders at input pixel (r, c), at padded
// index k of planes with row stride `stride`: the sum over its source cells. Gathered rather
// than scattered so that each input pixel has one writer and a fixed summation order.
RF_HD float flow_sobel_adjoint(const float* ax, const float* ay, int h, int w, int stride, int k,
                               int r, int c, const FlowScalars& scalars) {
  // Its own cell: the taps from outputs outside the plane read the zero pads of ax and ay.
  if (r > 0 && r + 1 < h && c > 0 && c + 1 < w)
    return flow_sobel_adjoint_inner<float>(ax, ay, k, stride, scalars);
  float sum = 0.0f;
  flow_replicated_sources(h, w, r, c, [&](int sr, int sc) {
    const int o = k + (sr - r) * stride + sc - c;
    sum += sr == r && sc == c ? flow_sobel_adjoint_inner<float>(ax, ay, o, stride, scalars)
                              : flow_sobel_adjoint_source(ax, ay, h, w, stride, o, sr, sc, scalars);
  });
  return sum;
}

// Adds one output pixel's share of the Sobel tap gradients to acc[kSlotSobelX..], from the
// adjoint (ax, ay) of its g and its source values at(a, b) as in flow_sobel.
template <class V, class At>
RF_HD void flow_sobel_tap_grads(V ax, V ay, At at, V* acc) {
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      const V v = at(a, b);
      acc[kSlotSobelX + a * 3 + b] += ax * v;
      acc[kSlotSobelY + a * 3 + b] += ay * v;
    }
  }
}

// The start of the backward at (i, j): the image terms again, and the output gradient (g1 for
// the x-flow, g2 for the y-flow, unpadded) as the adjoint of the final u.
RF_HD void flow_back_init(const FlowBackwardPlanes& bp, const float* f1, const float* f2,
                          const float* g1, const float* g2, int h, int w, int i, int j,
                          const FlowScalars& scalars) {
  flow_image_init(bp.im, f1, f2, h, w, i, j, scalars);
  const int k = flow_index(i, j, w);
  bp.ad.u1[k] = g1[i * w + j];
  bp.ad.u2[k] = g2[i * w + j];
}

// The end of the backward at (i, j): rho_c = f2 - f1 and g = sobel(f2) passed back to the
// inputs (unpadded planes), and this pixel's share of the Sobel tap gradients.
RF_HD void flow_back_inputs(const FlowAdjoint& ad, const float* f2, int h, int w, int i, int j,
                            const FlowScalars& scalars, float* grad_f1, float* grad_f2,
                            float* acc) {
  const int k = flow_index(i, j, w);
  grad_f1[i * w + j] = -ad.rho_c[k];
  grad_f2[i * w + j] =
      ad.rho_c[k] + flow_sobel_adjoint(ad.gx, ad.gy, h, w, flow_stride(w), k, i, j, scalars);
  flow_sobel_tap_grads<float>(
      ad.gx[k], ad.gy[k],
      [&](int a, int b) { return f2[flow_clamp(i + a - 1, h) * w + flow_clamp(j + b - 1, w)]; },
      acc);
}

// The gradient of f2 as flow_back_inputs has it, at padded index k away from the borders, into
// the padded plane grad_f2p (the gradient of f1 is -arho), from the adjoints arho, agx, agy of
// rho_c and g in the same layout as f2p, which is as in flow_image_init_padded. The Sobel tap
// gradients are summed only when `sobel_taps`.
template <class V>
RF_HD void flow_back_inputs_inner(const float* arho, const float* agx, const float* agy,
                                  const float* f2p, int k, int stride, const FlowScalars& scalars,
                                  float* grad_f2p, bool sobel_taps, V* acc) {
  using L = FlowLanes<V>;
  L::store(grad_f2p + k,
           L::load(arho + k) + flow_sobel_adjoint_inner<V>(agx, agy, k, stride, scalars));
  if (!sobel_taps) return;
  flow_sobel_tap_grads<V>(
      L::load(agx + k), L::load(agy + k),
      [&](int a, int b) { return L::load(f2p + k + (a - 1) * stride + b - 1); }, acc);
}

// ---- Data term (Eq. 2-3) -----------------------------------------------------------------

// All three cases of the thresholding are v = u + c g; this is c, from the pixel's 1 / g2: the
// middle case's -rho / g2 clamped to [-lt, lt] (rho < -lt g2 and rho > lt g2 are the clamped
// cases; testing them on -rho / g2 needs no per-pixel bound). The masks carry no gradient.
template <class V>
RF_HD V flow_threshold_coef(V rho, V inv_g2, V lt) {
  using L = FlowLanes<V>;
  const V m = -rho * inv_g2;
  return L::select(m > lt, lt, L::select(m < -lt, -lt, m));
}

// The reverse of v = u + c g at one pixel, given the adjoint (a1, a2) of v: returns the adjoint
// of u in (a1, a2) and adds those of g, rho_c and lambda * theta. In the middle case c = -rho/g2
// depends on u, g (also through g2) and rho_c; outside it c = +-lt.
template <class V>
RF_HD void flow_threshold_adjoint(V rho_c, V gx, V gy, V inv_g2, V u1, V u2, V lt, V& a1, V& a2,
                                  V& agx, V& agy, V& arho_c, V& alt) {
  using L = FlowLanes<V>;
  const V zero(0.0f);
  const V rho = rho_c + gx * u1 + gy * u2;
  const V m = -rho * inv_g2;
  const FlowMask<V> below = m > lt, above = m < -lt;
  const V c = L::select(below, lt, L::select(above, -lt, m));
  const V dot = a1 * gx + a2 * gy;
  alt += L::select(below, dot, L::select(above, -dot, zero));
  const V arho = L::select(below, zero, L::select(above, zero, -dot * inv_g2));
  // d/dg of -rho g/g2 beyond c I: through rho (u) and through g2 (2 g); 0 outside the middle.
  const V kg = V(2.0f) * c * arho;
  agx += c * a1 + arho * u1 + kg * gx;
  agy += c * a2 + arho * u2 + kg * gy;
  arho_c += arho;
  a1 += arho * gx;
  a2 += arho * gy;
}

// ---- Divergence and forward differences (Eq. 6-10) ---------------------------------------

// tau div(a, b) at k: tau folded into the taps costs no multiplication per pixel.
template <class V>
RF_HD V flow_tau_div(const float* a, const float* b, int k, int stride,
                     const FlowScalars& scalars) {
  using L = FlowLanes<V>;
  return V(scalars.tau_div_x[0]) * L::load(a + k - 1) + V(scalars.tau_div_x[1]) * L::load(a + k) +
         V(scalars.tau_div_y[0]) * L::load(b + k - stride) +
         V(scalars.tau_div_y[1]) * L::load(b + k);
}

// grad(u) from u at a pixel (uk), its right neighbour (ur) and its lower one (ud); `right` /
// `down` say whether those are inside the plane (the component is 0 where not).
// kUnitGrad (for FlowScalars::unit_grad alone) takes the differences without the taps, four
// multiplications fewer per pixel for the CPU sweeps, which are bound by the multiply-add pipes.
// The bits are the same: the products by -1 and 1 are exact, so the sum (contracted or not)
// rounds once, as the difference does.
template <class V, bool kUnitGrad = false>
RF_HD void flow_grad_values(V uk, V ur, V ud, FlowMask<V> right, FlowMask<V> down,
                            const FlowScalars& scalars, V& ux, V& uy) {
  using L = FlowLanes<V>;
  if constexpr (kUnitGrad) {
    ux = L::select(right, ur - uk, V(0.0f));
    uy = L::select(down, ud - uk, V(0.0f));
  } else {
    ux = L::select(right, V(scalars.grad_x[0]) * uk + V(scalars.grad_x[1]) * ur, V(0.0f));
    uy = L::select(down, V(scalars.grad_y[0]) * uk + V(scalars.grad_y[1]) * ud, V(0.0f));
  }
}

// grad(u) at padded index k.
template <class V, bool kUnitGrad = false>
RF_HD void flow_grad(const float* u, int k, int stride, FlowMask<V> right, FlowMask<V> down,
                     const FlowScalars& scalars, V& ux, V& uy) {
  using L = FlowLanes<V>;
  flow_grad_values<V, kUnitGrad>(L::load(u + k), L::load(u + k + 1), L::load(u + k + stride), right,
                                 down, scalars, ux, uy);
}

// ---- Dual update (Eq. 5) -----------------------------------------------------------------

// |grad u|^2 with the epsilon of ops/flow/flow.h, and |grad u|.
template <class V>
RF_HD V flow_norm2(V ux, V uy) {
  return ux * ux + uy * uy + V(kFlowNormEps);
}

template <class V>
RF_HD V flow_norm(V ux, V uy) {
  return FlowLanes<V>::sqrt(flow_norm2(ux, uy));
}

// N = |grad u|, its square x = N^2 and 1 / (N D) with D = 1 + s N: one division for both
// 1 / (N D) and 1 / D = N / (N D), and for both components.
template <class V>
RF_HD void flow_dual_terms(V ux, V uy, V step, V& x, V& n, V& inv_nd) {
  x = flow_norm2(ux, uy);
  n = FlowLanes<V>::sqrt(x);
  inv_nd = V(1.0f) / (n * (V(1.0f) + step * n));
}

// P' alone (P = p / s), as the forward needs it: with 1 / D directly, two multiplications
// fewer than through 1 / (N D).
template <class V>
RF_HD void flow_p_step(V ux, V uy, V step, V& p1, V& p2) {
  const V inv_d = V(1.0f) / (V(1.0f) + step * flow_norm(ux, uy));
  p1 = (p1 + ux) * inv_d;
  p2 = (p2 + uy) * inv_d;
}

// Also returns flow_dual_terms, which the adjoint needs.
template <class V>
RF_HD void flow_p_update(V ux, V uy, V step, V& p1, V& p2, V& x, V& n, V& inv_nd) {
  flow_dual_terms(ux, uy, step, x, n, inv_nd);
  const V inv_d = n * inv_nd;
  p1 = (p1 + ux) * inv_d;
  p2 = (p2 + uy) * inv_d;
}

// The reverse of flow_p_update from the new (q1, q2) = P', (ux, uy) and flow_p_update's x, N
// and 1 / (N D): (a1, a2) enter as the adjoint b of P' and leave as that of the old P; writes
// the adjoint of (ux, uy) and adds that of the step s. With N = |grad u|, D = 1 + s N,
// P' = (P + g) / D, g = (ux, uy), and k = (b . P') / (N D):
//   the adjoint of P is b / D,
//   that of g is b / D - s k g (b / D through P + g, -s k g through D),
//   that of s is -(b . P') N / D = -k N^2, with N^2 taken as x rather than from N.
template <class V>
RF_HD void flow_p_update_adjoint(V q1, V q2, V ux, V uy, V x, V n, V inv_nd, V step, V& a1, V& a2,
                                 V& aux, V& auy, V& astep) {
  const V inv_d = n * inv_nd;
  const V k = (a1 * q1 + a2 * q2) * inv_nd;
  const V sk = step * k;
  a1 = a1 * inv_d;
  a2 = a2 * inv_d;
  aux = a1 - sk * ux;
  auy = a2 - sk * uy;
  astep += -k * x;
}

// ---- Forward sweeps ----------------------------------------------------------------------

// u' = v + tau div(P) at padded index k, both components. Reads P at the pixel and its left
// and upper neighbours, u only at the pixel.
template <class V>
RF_HD void flow_primal_values(const FlowImage& im, const FlowState& st, const FlowScalars& scalars,
                              int stride, int k, V& out1, V& out2) {
  using L = FlowLanes<V>;
  const V gx = L::load(im.gx + k), gy = L::load(im.gy + k);
  const V u1 = L::load(st.u1 + k), u2 = L::load(st.u2 + k);
  const V rho = L::load(im.rho_c + k) + gx * u1 + gy * u2;
  const V c = flow_threshold_coef(rho, L::load(im.inv_g2 + k), V(scalars.lt));
  out1 = u1 + c * gx + flow_tau_div<V>(st.p11, st.p12, k, stride, scalars);
  out2 = u2 + c * gy + flow_tau_div<V>(st.p21, st.p22, k, stride, scalars);
}

// The primal sweep at padded index k: u' of the iterate `from` into `to`, which may be `from`
// itself (u is read only at the pixel being written). Lanes outside the plane (not `inside`:
// vectors that reach past the last column) store zeros, keeping the pads zero: div(p) there is
// not.
template <class V>
RF_HD void flow_primal_step(const FlowImage& im, const FlowState& from, const FlowState& to,
                            const FlowScalars& scalars, int stride, int k, FlowMask<V> inside) {
  using L = FlowLanes<V>;
  V u1, u2;
  flow_primal_values(im, from, scalars, stride, k, u1, u2);
  L::store(to.u1 + k, L::select(inside, u1, V(0.0f)));
  L::store(to.u2 + k, L::select(inside, u2, V(0.0f)));
}

// One component of the dual sweep: p' into (qa, qb) from p in (pa, pb) and u' in `up`.
template <class V, bool kUnitGrad = false>
RF_HD void flow_dual_step_one(const float* up, const float* pa, const float* pb, float* qa,
                              float* qb, const FlowScalars& scalars, int stride, int k,
                              FlowMask<V> right, FlowMask<V> down) {
  using L = FlowLanes<V>;
  V ux, uy, p1 = L::load(pa + k), p2 = L::load(pb + k);
  flow_grad<V, kUnitGrad>(up, k, stride, right, down, scalars, ux, uy);
  flow_p_step(ux, uy, V(scalars.step), p1, p2);
  L::store(qa + k, p1);
  L::store(qb + k, p2);
}

// The dual sweep at padded index k: the p update from the p of `from` and grad(u') of `to` into
// `to`. Reads u' at the pixel and its right and lower neighbours, p only at the pixel.
template <class V, bool kUnitGrad = false>
RF_HD void flow_dual_step(const FlowState& from, const FlowState& to, const FlowScalars& scalars,
                          int stride, int k, FlowMask<V> right, FlowMask<V> down) {
  flow_dual_step_one<V, kUnitGrad>(to.u1, from.p11, from.p12, to.p11, to.p12, scalars, stride, k,
                                   right, down);
  flow_dual_step_one<V, kUnitGrad>(to.u2, from.p21, from.p22, to.p21, to.p22, scalars, stride, k,
                                   right, down);
}

// ---- Backward passes, one iteration in reverse from its start state `st` -----------------
// `acc` holds kFlowSlots partial sums of the parameter gradients.

// The recompute pass (where the iterate after the iteration is not at hand): u' into
// ad.uprime1, ad.uprime2.
template <class V>
RF_HD void flow_back_recompute(const FlowImage& im, const FlowState& st, const FlowAdjoint& ad,
                               const FlowScalars& scalars, int stride, int k) {
  V u1, u2;
  flow_primal_values(im, st, scalars, stride, k, u1, u2);
  FlowLanes<V>::store(ad.uprime1 + k, u1);
  FlowLanes<V>::store(ad.uprime2 + k, u2);
}

// One component of the dual reverse from values: u' at the pixel and its right and lower
// neighbours, and in (q1, q2) the old P, from which P' is recomputed, unless `next`: then P'.
// (b1, b2) enter as the adjoint of P' and leave as that of the old P; (gx, gy) receive the
// adjoint of grad(u'). The gradients of the grad taps are summed only when `taps`.
template <class V, bool kUnitGrad = false>
RF_HD void flow_back_dual_values(V uk, V ur, V ud, V q1, V q2, bool next, FlowMask<V> right,
                                 FlowMask<V> down, const FlowScalars& scalars, bool taps, V& b1,
                                 V& b2, V& gx, V& gy, V* acc) {
  using L = FlowLanes<V>;
  const V step(scalars.step);
  V ux, uy, x, n, r;
  flow_grad_values<V, kUnitGrad>(uk, ur, ud, right, down, scalars, ux, uy);
  if (next) {
    flow_dual_terms(ux, uy, step, x, n, r);
  } else {
    flow_p_update(ux, uy, step, q1, q2, x, n, r);
  }
  flow_p_update_adjoint(q1, q2, ux, uy, x, n, r, step, b1, b2, gx, gy, acc[kSlotStep]);
  // The components fixed at 0 on the last column / row pass nothing back.
  gx = L::select(right, gx, V(0.0f));
  gy = L::select(down, gy, V(0.0f));
  if (!taps) return;
  acc[kSlotGradX] += gx * uk;
  acc[kSlotGradX + 1] += gx * ur;
  acc[kSlotGradY] += gy * uk;
  acc[kSlotGradY + 1] += gy * ud;
}

// One component of the dual reverse at padded index k: u' in `up`, the old p in (pa, pb), the
// adjoint of p' in (a1, a2), in place; the adjoint of grad(u') into (aux, auy).
template <class V>
RF_HD void flow_back_dual_one(const float* up, const float* pa, const float* pb, float* a1,
                              float* a2, float* aux, float* auy, const FlowScalars& scalars, int k,
                              int stride, FlowMask<V> right, FlowMask<V> down, V* acc) {
  using L = FlowLanes<V>;
  V b1 = L::load(a1 + k), b2 = L::load(a2 + k), gx, gy;
  flow_back_dual_values(L::load(up + k), L::load(up + k + 1), L::load(up + k + stride),
                        L::load(pa + k), L::load(pb + k), false, right, down, scalars, true, b1, b2,
                        gx, gy, acc);
  L::store(a1 + k, b1);
  L::store(a2 + k, b2);
  L::store(aux + k, gx);
  L::store(auy + k, gy);
}

// The dual reverse: reverses the p update, from u' in ad.uprime (the recompute pass) and the
// start state. Reads u' at the pixel and its right and lower neighbours; turns the p adjoints at
// the pixel into those of the old p and writes the adjoints of grad(u') there.
template <class V>
RF_HD void flow_back_dual(const FlowState& st, const FlowAdjoint& ad, const FlowScalars& scalars,
                          int stride, int k, FlowMask<V> right, FlowMask<V> down, V* acc) {
  flow_back_dual_one<V>(ad.uprime1, st.p11, st.p12, ad.p11, ad.p12, ad.ux1, ad.uy1, scalars, k,
                        stride, right, down, acc);
  flow_back_dual_one<V>(ad.uprime2, st.p21, st.p22, ad.p21, ad.p22, ad.ux2, ad.uy2, scalars, k,
                        stride, right, down, acc);
}

// The grad reverse for one component at padded index k: the whole adjoint of u' into `au`, from
// its adjoint as the next iteration's start u (au_next) and the adjoint of grad(u') (ax, ay) at
// the pixel and its left and upper neighbours. kUnitGrad as in flow_grad_values: the same bits,
// the sum taken in the same order.
template <class V, bool kUnitGrad = false>
RF_HD void flow_back_grad_one(const float* au_next, const float* ax, const float* ay, float* au,
                              const FlowScalars& scalars, int stride, int k) {
  using L = FlowLanes<V>;
  const V xk = L::load(ax + k), xl = L::load(ax + k - 1), yk = L::load(ay + k),
          yu = L::load(ay + k - stride);
  V sum;
  if constexpr (kUnitGrad) {
    sum = ((xl - xk) - yk) + yu;
  } else {
    sum = ((V(scalars.grad_x[1]) * xl + V(scalars.grad_x[0]) * xk) + V(scalars.grad_y[0]) * yk) +
          V(scalars.grad_y[1]) * yu;
  }
  L::store(au + k, L::load(au_next + k) + sum);
}

// The grad reverse: the adjoint of u' into ad.uprime for both components.
template <class V, bool kUnitGrad = false>
RF_HD void flow_back_grad(const FlowAdjoint& ad, const FlowScalars& scalars, int stride, int k) {
  flow_back_grad_one<V, kUnitGrad>(ad.u1, ad.ux1, ad.uy1, ad.uprime1, scalars, stride, k);
  flow_back_grad_one<V, kUnitGrad>(ad.u2, ad.ux2, ad.uy2, ad.uprime2, scalars, stride, k);
}

// The divergence part of the primal reverse for one component, from values: adds
// tau div^T(au) to the P adjoints (aa, ab) at the pixel, from the adjoint au of u' at the pixel
// (auk) and at its right and lower neighbours (aur, aud), and adds the tap partials, from the
// x component of P at the pixel's left neighbour and at the pixel (pl, pa) and its y component a
// row up and at the pixel (pu, pb). tau is folded into the taps here and applied to the tap
// partials once, in flow_param_grads: two multiplications fewer per pixel. The x (y) component
// of P on the last column (row) is always 0, its grad u component being fixed at 0: its adjoint
// is set to 0 there (`right`, `down`), which also keeps lanes outside the plane zero, rather
// than read au beyond the plane (on the CPU's grid, the next row's first pixel).
template <class V>
RF_HD void flow_back_div_values(V auk, V aur, V aud, V pl, V pa, V pu, V pb, FlowMask<V> right,
                                FlowMask<V> down, const FlowScalars& scalars, V& aa, V& ab,
                                V* acc) {
  using L = FlowLanes<V>;
  const V zero(0.0f);
  aa = L::select(right, aa + V(scalars.tau_div_x[1]) * auk + V(scalars.tau_div_x[0]) * aur, zero);
  ab = L::select(down, ab + V(scalars.tau_div_y[1]) * auk + V(scalars.tau_div_y[0]) * aud, zero);
  acc[kSlotDivX] += auk * pl;
  acc[kSlotDivX + 1] += auk * pa;
  acc[kSlotDivY] += auk * pu;
  acc[kSlotDivY + 1] += auk * pb;
}

// The divergence part of the primal reverse for one component at padded index k: the adjoint
// of u' in `au`, p in (pa, pb), its adjoint in (aa, ab), in place.
template <class V>
RF_HD void flow_back_div_one(const float* au, const float* pa, const float* pb, float* aa,
                             float* ab, const FlowScalars& scalars, int k, int stride,
                             FlowMask<V> right, FlowMask<V> down, V* acc) {
  using L = FlowLanes<V>;
  V a = L::load(aa + k), b = L::load(ab + k);
  flow_back_div_values(L::load(au + k), L::load(au + k + 1), L::load(au + k + stride),
                       L::load(pa + k - 1), L::load(pa + k), L::load(pb + k - stride),
                       L::load(pb + k), right, down, scalars, a, b, acc);
  L::store(aa + k, a);
  L::store(ab + k, b);
}

// The thresholding part of the primal reverse at padded index k, from the adjoint (au1, au2)
// of u' and the start u (u1, u2) there: writes the adjoint of the start u and adds those of the
// image terms.
template <class V>
RF_HD void flow_back_threshold(const FlowImage& im, const FlowAdjoint& ad,
                               const FlowScalars& scalars, int k, V au1, V au2, V u1, V u2,
                               V* acc) {
  using L = FlowLanes<V>;
  V agx = L::load(ad.gx + k), agy = L::load(ad.gy + k), arho = L::load(ad.rho_c + k);
  flow_threshold_adjoint(L::load(im.rho_c + k), L::load(im.gx + k), L::load(im.gy + k),
                         L::load(im.inv_g2 + k), u1, u2, V(scalars.lt), au1, au2, agx, agy, arho,
                         acc[kSlotLambdaTheta]);
  L::store(ad.u1 + k, au1);
  L::store(ad.u2 + k, au2);
  L::store(ad.gx + k, agx);
  L::store(ad.gy + k, agy);
  L::store(ad.rho_c + k, arho);
}

// The primal reverse: reverses u' = v + tau div(P) and the thresholding. Reads the adjoint of
// u' (ad.uprime) at the pixel and its right and lower neighbours; writes the adjoint of the
// start u at the pixel (0 outside the plane, where ad.uprime and the image terms are). `right` /
// `down` as in flow_grad_values.
template <class V>
RF_HD void flow_back_primal(const FlowImage& im, const FlowState& st, const FlowAdjoint& ad,
                            const FlowScalars& scalars, int stride, int k, FlowMask<V> right,
                            FlowMask<V> down, V* acc) {
  using L = FlowLanes<V>;
  flow_back_div_one(ad.uprime1, st.p11, st.p12, ad.p11, ad.p12, scalars, k, stride, right, down,
                    acc);
  flow_back_div_one(ad.uprime2, st.p21, st.p22, ad.p21, ad.p22, scalars, k, stride, right, down,
                    acc);
  flow_back_threshold(im, ad, scalars, k, L::load(ad.uprime1 + k), L::load(ad.uprime2 + k),
                      L::load(st.u1 + k), L::load(st.u2 + k), acc);
}

// The passes that need edge masks, for the single pixel (i, j): the form the CUDA threads use.
RF_HD void flow_dual_step_at(const FlowState& st, const FlowScalars& scalars, int h, int w, int i,
                             int j) {
  flow_dual_step<float>(st, st, scalars, flow_stride(w), flow_index(i, j, w), j + 1 < w, i + 1 < h);
}

RF_HD void flow_back_dual_at(const FlowState& st, const FlowAdjoint& ad, const FlowScalars& scalars,
                             int h, int w, int i, int j, float* acc) {
  flow_back_dual<float>(st, ad, scalars, flow_stride(w), flow_index(i, j, w), j + 1 < w, i + 1 < h,
                        acc);
}

RF_HD void flow_back_primal_at(const FlowImage& im, const FlowState& st, const FlowAdjoint& ad,
                               const FlowScalars& scalars, int h, int w, int i, int j, float* acc) {
  flow_back_primal<float>(im, st, ad, scalars, flow_stride(w), flow_index(i, j, w), j + 1 < w,
                          i + 1 < h, acc);
}

// The parameter gradients from the summed partials (kFlowSlots of them) into `grads`.
RF_HD void flow_param_grads(const FlowScalars& scalars, const double* sums,
                            FlowParamValues& grads) {
  const double step_adj = sums[kSlotStep], lt_adj = sums[kSlotLambdaTheta];
  double tau_div = 0.0;  // the sum of au div(P), au the adjoint of u', from the div taps' slots
  for (int j = 0; j < 2; ++j)
    tau_div += scalars.div_x[j] * sums[kSlotDivX + j] + scalars.div_y[j] * sums[kSlotDivY + j];
  grads.theta = static_cast<float>(
      lt_adj * scalars.lambda - step_adj * scalars.tau / (double{scalars.theta} * scalars.theta));
  grads.lambda = static_cast<float>(lt_adj * scalars.theta);
  grads.tau = static_cast<float>(tau_div + step_adj / scalars.theta);
  // The taps, from their own slots; those of the divergence taps lack the factor tau.
  flow_for_each_param([&](auto k) {
    constexpr FlowParamSpec spec = kFlowParamTable[decltype(k)::value];
    if (!spec.tap_slots) return;
    const double* tap_sums = sums + flow_param_slot(spec.id);
    float* tap_grads = grads.at(spec.id);
    for (int e = 0; e < spec.numel(); ++e)
      tap_grads[e] = spec.group == FlowParamGroup::kDiv
                         ? static_cast<float>(tap_sums[e] * scalars.tau)
                         : static_cast<float>(tap_sums[e]);
  });
}

// flow_param_grads, written to the wanted gradients of `grads` (those not null).
RF_HD void flow_store_param_grads(const FlowScalars& scalars, const double* sums,
                                  const FlowParamPointers<float>& grads) {
  FlowParamValues values;
  flow_param_grads(scalars, sums, values);
  flow_for_each_param([&](auto k) {
    constexpr FlowParamSpec spec = kFlowParamTable[decltype(k)::value];
    if (float* out = grads.at(spec.id))
      for (int e = 0; e < spec.numel(); ++e) out[e] = values.at(spec.id)[e];
  });
}

}  // namespace repflow::ops
