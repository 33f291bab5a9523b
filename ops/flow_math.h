#pragma once
// Per-pixel formulas of the representation flow op (definition in ops/flow.h) and of its exact
// reverse: the single source of truth that the CPU loops and the CUDA kernels both run. Only the
// order in which pixels are visited, and where the planes live, differ between schedules.
//
// Working planes are padded by one zero cell on every side (flow_index), so the stencils below
// read neighbours without bounds tests: the zeros outside the plane that div() and the
// adjoints assume are simply there, which keeps the CPU inner loops branch-free. Pad cells are
// zeroed once and never written.
#include <cmath>
#include <cstdint>

#include "framework/hostdev.h"

namespace repflow::ops {

// The epsilons of ops/flow.h: in g2 and in |grad u|.
constexpr float kFlowG2Eps = 1e-12f;
constexpr float kFlowNormEps = 1e-12f;

// Parameter values, passed by value to kernels.
struct FlowScalars {
  float theta, lambda, tau;
  float div_x[2], div_y[2], grad_x[2], grad_y[2];
  float sobel_x[9], sobel_y[9];  // row-major 3x3
};

// Slots of the per-plane partial sums from which the parameter gradients are assembled: the
// adjoints of theta where it multiplies div(p), of lambda * theta, of s = tau / theta, and of
// every tap.
enum FlowGradSlot : int {
  kSlotThetaDiv = 0,
  kSlotLambdaTheta = 1,
  kSlotStep = 2,
  kSlotDivX = 3,
  kSlotDivY = 5,
  kSlotGradX = 7,
  kSlotGradY = 9,
  kSlotSobelX = 11,
  kSlotSobelY = 20,
  kFlowSlots = 29
};

RF_HD int flow_stride(int w) { return w + 2; }
RF_HD int flow_padded_size(int h, int w) { return (h + 2) * (w + 2); }
RF_HD int flow_index(int i, int j, int w) { return (i + 1) * (w + 2) + j + 1; }
RF_HD int flow_clamp(int i, int n) { return i < 0 ? 0 : (i >= n ? n - 1 : i); }

// One plane's image terms, padded.
struct FlowImage {
  float* gx;
  float* gy;
  float* rho_c;
};

// One plane's iterate (u, p), padded. These six planes are contiguous in this order, both in
// the working memory and in the state saved for the backward.
struct FlowState {
  float* u1;
  float* u2;
  float* p11;
  float* p12;
  float* p21;
  float* p22;
};
constexpr int kFlowStatePlanes = 6;
constexpr int kFlowForwardPlanes = kFlowStatePlanes + 3;

RF_HD FlowState flow_state_at(float* base, int padded) {
  return {base,
          base + padded,
          base + 2 * padded,
          base + 3 * padded,
          base + 4 * padded,
          base + 5 * padded};
}
// The saved start state of an iteration: only read by the backward, which shares the sweep
// functions (and so the FlowState type) with the forward.
RF_HD FlowState flow_saved_state_at(const float* base, int padded) {
  return flow_state_at(const_cast<float*>(base), padded);
}
RF_HD FlowImage flow_image_at(float* base, int padded) {
  return {base, base + padded, base + 2 * padded};
}

// One plane's adjoints during the backward, padded. `t1`, `t2` first hold the recomputed
// relaxed u' of the iteration, then (once the p update has been reversed) the adjoint of u';
// u1..p22 hold the adjoints of the iterate; gx, gy, rho_c accumulate over all iterations.
struct FlowAdjoint {
  float* t1;
  float* t2;
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
constexpr int kFlowBackwardPlanes = kFlowAdjointPlanes + 3;

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
  return {flow_image_at(base, padded), flow_adjoint_at(base + 3 * padded, padded)};
}

// Offset of the x-flow plane of `plane` in the (N, 2C, H, W) output; the y-flow plane follows
// C planes later.
RF_HD int64_t flow_out_offset(int64_t plane, int64_t channels, int64_t hw) {
  return (plane / channels * 2 * channels + plane % channels) * hw;
}

// ---- Image terms -------------------------------------------------------------------------

// g = (sobel_x, sobel_y) cross-correlated with the unpadded plane f2 at (i, j), replicated
// borders; rho_c = f2 - f1.
RF_HD void flow_image_init(const FlowImage& im, const float* f1, const float* f2, int h, int w,
                           int i, int j, const FlowScalars& s) {
  float gx = 0.0f, gy = 0.0f;
  for (int a = 0; a < 3; ++a) {
    const float* row = f2 + flow_clamp(i + a - 1, h) * w;
    for (int b = 0; b < 3; ++b) {
      const float v = row[flow_clamp(j + b - 1, w)];
      gx += s.sobel_x[a * 3 + b] * v;
      gy += s.sobel_y[a * 3 + b] * v;
    }
  }
  const int k = flow_index(i, j, w);
  im.gx[k] = gx;
  im.gy[k] = gy;
  im.rho_c[k] = f2[i * w + j] - f1[i * w + j];
}

// The adjoint of the Sobel filtering at input pixel (r, c): every (output pixel, tap) pair
// whose clamped source is (r, c), gathered rather than scattered so that each input pixel has
// one writer and a fixed summation order. Sources lie within one pixel of their outputs, also
// at replicated borders.
RF_HD float flow_sobel_adjoint(const float* ax, const float* ay, int h, int w, int r, int c,
                               const FlowScalars& s) {
  float sum = 0.0f;
  for (int i = r - 1; i <= r + 1; ++i) {
    if (i < 0 || i >= h) continue;
    for (int a = 0; a < 3; ++a) {
      if (flow_clamp(i + a - 1, h) != r) continue;
      for (int j = c - 1; j <= c + 1; ++j) {
        if (j < 0 || j >= w) continue;
        for (int b = 0; b < 3; ++b) {
          if (flow_clamp(j + b - 1, w) != c) continue;
          const int k = flow_index(i, j, w);
          sum += s.sobel_x[a * 3 + b] * ax[k] + s.sobel_y[a * 3 + b] * ay[k];
        }
      }
    }
  }
  return sum;
}

// Adds output pixel (i, j)'s share of the Sobel tap gradients to acc[kSlotSobelX..].
RF_HD void flow_sobel_tap_grads(const float* ax, const float* ay, const float* f2, int h, int w,
                                int i, int j, float* acc) {
  const int k = flow_index(i, j, w);
  for (int a = 0; a < 3; ++a) {
    const float* row = f2 + flow_clamp(i + a - 1, h) * w;
    for (int b = 0; b < 3; ++b) {
      const float v = row[flow_clamp(j + b - 1, w)];
      acc[kSlotSobelX + a * 3 + b] += ax[k] * v;
      acc[kSlotSobelY + a * 3 + b] += ay[k] * v;
    }
  }
}

// The start of the backward at (i, j): the image terms again, and the output gradient (g1 for
// the x-flow, g2 for the y-flow, unpadded) as the adjoint of the final u.
RF_HD void flow_back_init(const FlowBackwardPlanes& bp, const float* f1, const float* f2,
                          const float* g1, const float* g2, int h, int w, int i, int j,
                          const FlowScalars& s) {
  flow_image_init(bp.im, f1, f2, h, w, i, j, s);
  const int k = flow_index(i, j, w);
  bp.ad.u1[k] = g1[i * w + j];
  bp.ad.u2[k] = g2[i * w + j];
}

// The end of the backward at (i, j): rho_c = f2 - f1 and g = sobel(f2) passed back to the
// inputs (unpadded planes), and this pixel's share of the Sobel tap gradients.
RF_HD void flow_back_inputs(const FlowAdjoint& ad, const float* f2, int h, int w, int i, int j,
                            const FlowScalars& s, float* grad_f1, float* grad_f2, float* acc) {
  const int k = flow_index(i, j, w);
  grad_f1[i * w + j] = -ad.rho_c[k];
  grad_f2[i * w + j] = ad.rho_c[k] + flow_sobel_adjoint(ad.gx, ad.gy, h, w, i, j, s);
  flow_sobel_tap_grads(ad.gx, ad.gy, f2, h, w, i, j, acc);
}

// ---- Data term (Eq. 2-3) -----------------------------------------------------------------

// All three cases of the thresholding are v = u + c g; this is c. The masks carry no gradient.
RF_HD float flow_threshold_coef(float rho, float g2, float lt) {
  if (rho < -lt * g2) return lt;
  if (rho > lt * g2) return -lt;
  return -rho / g2;
}

RF_HD float flow_g2(float gx, float gy) { return gx * gx + gy * gy + kFlowG2Eps; }

// The reverse of v = u + c g at one pixel, given the adjoint (a1, a2) of v: returns the adjoint
// of u in (a1, a2) and adds those of g, rho_c and lambda * theta. In the middle case c = -rho/g2
// depends on u, g (also through g2) and rho_c; outside it c = +-lt.
RF_HD void flow_threshold_adjoint(float rho_c, float gx, float gy, float u1, float u2, float lt,
                                  float* a1, float* a2, float* agx, float* agy, float* arho_c,
                                  float* alt) {
  const float g2 = flow_g2(gx, gy);
  const float rho = rho_c + gx * u1 + gy * u2;
  const float c = flow_threshold_coef(rho, g2, lt);
  const float dot = *a1 * gx + *a2 * gy;
  *agx += c * *a1;
  *agy += c * *a2;
  if (rho < -lt * g2) {
    *alt += dot;
  } else if (rho > lt * g2) {
    *alt -= dot;
  } else {
    const float arho = -dot / g2;
    // d/dg of -rho g/g2 beyond c I: through rho (u) and through g2 (2 g).
    const float kg = -2.0f * c * dot / g2;
    *agx += arho * u1 + kg * gx;
    *agy += arho * u2 + kg * gy;
    *arho_c += arho;
    *a1 += arho * gx;
    *a2 += arho * gy;
  }
}

// ---- Divergence and forward differences (Eq. 6-10) ---------------------------------------

RF_HD float flow_div(const float* a, const float* b, int k, int stride, const FlowScalars& s) {
  return s.div_x[0] * a[k - 1] + s.div_x[1] * a[k] + s.div_y[0] * b[k - stride] + s.div_y[1] * b[k];
}

// grad(u) at padded index k; `right` / `down` say whether (i, j + 1) / (i + 1, j) is inside.
RF_HD void flow_grad(const float* u, int k, int stride, bool right, bool down, const FlowScalars& s,
                     float* ux, float* uy) {
  const float dx = s.grad_x[0] * u[k] + s.grad_x[1] * u[k + 1];
  const float dy = s.grad_y[0] * u[k] + s.grad_y[1] * u[k + stride];
  *ux = right ? dx : 0.0f;
  *uy = down ? dy : 0.0f;
}

// ---- Dual update (Eq. 5) -----------------------------------------------------------------

RF_HD float flow_norm(float ux, float uy) { return sqrtf(ux * ux + uy * uy + kFlowNormEps); }

RF_HD void flow_p_update(float ux, float uy, float step, float* p1, float* p2) {
  const float d = 1.0f + step * flow_norm(ux, uy);
  *p1 = (*p1 + step * ux) / d;
  *p2 = (*p2 + step * uy) / d;
}

// The reverse of flow_p_update from the old (p1, p2) and (ux, uy): (a1, a2) enter as the
// adjoint of the new p and leave as that of the old p; writes the adjoint of (ux, uy) and adds
// that of the step s. With N = |grad u|, D = 1 + s N, p' = (p + s ux) / D:
//   dp'/dp = 1/D, dp'_1/dux = s/D - p'_1 s ux/(N D), dp'_1/duy = -p'_1 s uy/(N D),
//   dp'/ds = (u - p' N)/D, and likewise for p'_2.
RF_HD void flow_p_update_adjoint(float p1, float p2, float ux, float uy, float step, float* a1,
                                 float* a2, float* aux, float* auy, float* astep) {
  const float n = flow_norm(ux, uy);
  const float inv_d = 1.0f / (1.0f + step * n);
  const float q1 = (p1 + step * ux) * inv_d, q2 = (p2 + step * uy) * inv_d;
  const float dot = *a1 * q1 + *a2 * q2;
  const float k = dot * step * inv_d / n;
  *aux = *a1 * step * inv_d - k * ux;
  *auy = *a2 * step * inv_d - k * uy;
  *astep += (*a1 * ux + *a2 * uy - dot * n) * inv_d;
  *a1 *= inv_d;
  *a2 *= inv_d;
}

// ---- Forward sweeps ----------------------------------------------------------------------

// Sweep A at padded index k: u' = v + theta div(p) for both components. Reads p at the pixel
// and its left and upper neighbours, u only at the pixel.
RF_HD void flow_relax(const FlowImage& im, const FlowState& st, const FlowScalars& s, int stride,
                      int k, float* out1, float* out2) {
  const float g2 = flow_g2(im.gx[k], im.gy[k]);
  const float rho = im.rho_c[k] + im.gx[k] * st.u1[k] + im.gy[k] * st.u2[k];
  const float c = flow_threshold_coef(rho, g2, s.lambda * s.theta);
  *out1 = st.u1[k] + c * im.gx[k] + s.theta * flow_div(st.p11, st.p12, k, stride, s);
  *out2 = st.u2[k] + c * im.gy[k] + s.theta * flow_div(st.p21, st.p22, k, stride, s);
}

// Sweep B at (i, j): the p update from grad(u'). Reads u' at the pixel and its right and lower
// neighbours, p only at the pixel.
RF_HD void flow_dual_step(const FlowState& st, const FlowScalars& s, int h, int w, int i, int j) {
  const int k = flow_index(i, j, w), stride = flow_stride(w);
  const float step = s.tau / s.theta;
  float ux, uy;
  flow_grad(st.u1, k, stride, j + 1 < w, i + 1 < h, s, &ux, &uy);
  flow_p_update(ux, uy, step, &st.p11[k], &st.p12[k]);
  flow_grad(st.u2, k, stride, j + 1 < w, i + 1 < h, s, &ux, &uy);
  flow_p_update(ux, uy, step, &st.p21[k], &st.p22[k]);
}

// ---- Backward sweeps, one iteration in reverse from its start state `st` -----------------

// B0: recompute u' into t1, t2.
RF_HD void flow_back_recompute(const FlowImage& im, const FlowState& st, const FlowAdjoint& ad,
                               const FlowScalars& s, int stride, int k) {
  flow_relax(im, st, s, stride, k, &ad.t1[k], &ad.t2[k]);
}

RF_HD void flow_back_dual_one(const float* up, float p1, float p2, float* a1, float* a2, float* aux,
                              float* auy, const FlowScalars& s, int k, int stride, bool right,
                              bool down, float* acc) {
  const float step = s.tau / s.theta;
  float ux, uy;
  flow_grad(up, k, stride, right, down, s, &ux, &uy);
  flow_p_update_adjoint(p1, p2, ux, uy, step, a1, a2, &aux[k], &auy[k], &acc[kSlotStep]);
  // The components fixed at 0 on the last column / row pass nothing back.
  if (!right) aux[k] = 0.0f;
  if (!down) auy[k] = 0.0f;
  acc[kSlotGradX] += aux[k] * up[k];
  acc[kSlotGradX + 1] += aux[k] * up[k + 1];
  acc[kSlotGradY] += auy[k] * up[k];
  acc[kSlotGradY + 1] += auy[k] * up[k + stride];
}

// B1 at (i, j): reverse the p update. Reads u' (t) at the pixel and its right and lower
// neighbours; turns the p adjoints at the pixel into those of the old p and writes the adjoints
// of grad(u') there.
RF_HD void flow_back_dual(const FlowState& st, const FlowAdjoint& ad, const FlowScalars& s, int h,
                          int w, int i, int j, float* acc) {
  const int k = flow_index(i, j, w), stride = flow_stride(w);
  flow_back_dual_one(ad.t1, st.p11[k], st.p12[k], &ad.p11[k], &ad.p12[k], ad.ux1, ad.uy1, s, k,
                     stride, j + 1 < w, i + 1 < h, acc);
  flow_back_dual_one(ad.t2, st.p21[k], st.p22[k], &ad.p21[k], &ad.p22[k], ad.ux2, ad.uy2, s, k,
                     stride, j + 1 < w, i + 1 < h, acc);
}

// B2 at padded index k: the adjoint of u' into t, from the incoming adjoint of u' and the
// adjoint of grad(u') at the pixel and its left and upper neighbours.
RF_HD void flow_back_grad(const FlowAdjoint& ad, const FlowScalars& s, int stride, int k) {
  ad.t1[k] = ad.u1[k] + s.grad_x[0] * ad.ux1[k] + s.grad_x[1] * ad.ux1[k - 1] +
             s.grad_y[0] * ad.uy1[k] + s.grad_y[1] * ad.uy1[k - stride];
  ad.t2[k] = ad.u2[k] + s.grad_x[0] * ad.ux2[k] + s.grad_x[1] * ad.ux2[k - 1] +
             s.grad_y[0] * ad.uy2[k] + s.grad_y[1] * ad.uy2[k - stride];
}

// The divergence part of B3 for one component: adds theta div^T(t) to the p adjoints at k
// (reading t at the pixel and its right and lower neighbours) and the tap and theta partials.
RF_HD void flow_back_div_one(const float* t, const float* pa, const float* pb, float* aa, float* ab,
                             const FlowScalars& s, int k, int stride, float* acc) {
  aa[k] += s.theta * (s.div_x[1] * t[k] + s.div_x[0] * t[k + 1]);
  ab[k] += s.theta * (s.div_y[1] * t[k] + s.div_y[0] * t[k + stride]);
  acc[kSlotThetaDiv] += t[k] * flow_div(pa, pb, k, stride, s);
  const float tt = s.theta * t[k];
  acc[kSlotDivX] += tt * pa[k - 1];
  acc[kSlotDivX + 1] += tt * pa[k];
  acc[kSlotDivY] += tt * pb[k - stride];
  acc[kSlotDivY + 1] += tt * pb[k];
}

// B3 at padded index k: reverse u' = v + theta div(p) and the thresholding. Reads t at the
// pixel and its right and lower neighbours; writes the adjoint of the start u at the pixel.
RF_HD void flow_back_relax(const FlowImage& im, const FlowState& st, const FlowAdjoint& ad,
                           const FlowScalars& s, int stride, int k, float* acc) {
  flow_back_div_one(ad.t1, st.p11, st.p12, ad.p11, ad.p12, s, k, stride, acc);
  flow_back_div_one(ad.t2, st.p21, st.p22, ad.p21, ad.p22, s, k, stride, acc);
  float a1 = ad.t1[k], a2 = ad.t2[k];
  flow_threshold_adjoint(im.rho_c[k], im.gx[k], im.gy[k], st.u1[k], st.u2[k], s.lambda * s.theta,
                         &a1, &a2, &ad.gx[k], &ad.gy[k], &ad.rho_c[k], &acc[kSlotLambdaTheta]);
  ad.u1[k] = a1;
  ad.u2[k] = a2;
}

// The parameter gradients from the summed partials; `grads` in the order theta, lambda, tau,
// div_x[2], div_y[2], grad_x[2], grad_y[2], sobel_x[9], sobel_y[9] (as FlowScalars).
inline void flow_param_grads(const FlowScalars& s, const double* sums, float* grads) {
  const double step_adj = sums[kSlotStep], lt_adj = sums[kSlotLambdaTheta];
  grads[0] = static_cast<float>(sums[kSlotThetaDiv] + lt_adj * s.lambda -
                                step_adj * s.tau / (double{s.theta} * s.theta));
  grads[1] = static_cast<float>(lt_adj * s.theta);
  grads[2] = static_cast<float>(step_adj / s.theta);
  for (int t = kSlotDivX; t < kFlowSlots; ++t) grads[t] = static_cast<float>(sums[t]);
}

}  // namespace repflow::ops
