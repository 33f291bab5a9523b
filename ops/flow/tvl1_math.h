#pragma once
// Per-pixel formulas of TV-L1 optical flow (Zach, Pock and Bischof, DAGM 2007) with a
// coarse-to-fine pyramid and warping, the scheme of OpenCV's DualTVL1 and of the paper's TV-L1
// baselines: the single source of truth that the CPU and CUDA schedules of ops/flow/tvl1.h run.
// The iterations at each warp are the representation flow op's own (flow_math.h's primal and
// dual sweeps), started from the flow so far instead of from zero; this header adds what
// surrounds them: resampling between pyramid levels, the image gradient, and the image terms of
// one warp.
#include "ops/flow/flow_math.h"

namespace repflow::ops {

// The image gradient's 3 x 3 taps, in the place of the flow layer's Sobel kernels: central
// differences (I(x + 1) - I(x - 1)) / 2, as OpenCV's DualTVL1. (The Sobel kernels also smooth
// along the other axis, which blurs the gradient of fine texture: docs/perf/tvl1.md.)
constexpr float kTvl1GradientX[9] = {0, 0, 0, -0.5f, 0, 0.5f, 0, 0, 0};
constexpr float kTvl1GradientY[9] = {0, -0.5f, 0, 0, 0, 0, 0, 0.5f, 0};

// The value of an h x w plane at the real position (y, x) by bilinear interpolation, the
// position clamped into the plane (replicated borders: content that moves out of the frame
// compares with the border).
RF_HD float tvl1_bilinear(const float* src, int h, int w, float y, float x) {
  y = fminf(fmaxf(y, 0.0f), static_cast<float>(h - 1));
  x = fminf(fmaxf(x, 0.0f), static_cast<float>(w - 1));
  const int i0 = static_cast<int>(y), j0 = static_cast<int>(x);
  const int i1 = i0 + 1 < h ? i0 + 1 : i0, j1 = j0 + 1 < w ? j0 + 1 : j0;
  const float fy = y - static_cast<float>(i0), fx = x - static_cast<float>(j0);
  const float top = src[i0 * w + j0] + fx * (src[i0 * w + j1] - src[i0 * w + j0]);
  const float bottom = src[i1 * w + j0] + fx * (src[i1 * w + j1] - src[i1 * w + j0]);
  return top + fy * (bottom - top);
}

// The antialiasing blur before each downsampling: a Gaussian of standard deviation
// 0.6 sqrt(1 / step^2 - 1) (as in Sanchez, Meinhardt-Llopis and Facciolo's TV-L1, IPOL 2013),
// cut at kTvl1BlurRadius pixels (3.8 standard deviations at step 0.5).
constexpr int kTvl1BlurRadius = 4;
constexpr int kTvl1BlurTaps = 2 * kTvl1BlurRadius + 1;

// Pixel (i, j) of an h x w plane blurred along x (dx = 1) or y (dx = 0) by `taps`, borders
// replicated.
RF_HD float tvl1_blurred(const float* src, int h, int w, int i, int j, bool along_x,
                         const float* taps) {
  float v = 0.0f;
  for (int t = -kTvl1BlurRadius; t <= kTvl1BlurRadius; ++t)
    v += taps[t + kTvl1BlurRadius] *
         (along_x ? src[i * w + flow_clamp(j + t, w)] : src[flow_clamp(i + t, h) * w + j]);
  return v;
}

// Pixel (i, j) of a plane resized to dh x dw from the sh x sw plane `src`: bilinear with pixel
// centres aligned (position (i + 1/2) sh / dh - 1/2, as OpenCV's INTER_LINEAR resize).
RF_HD float tvl1_resized(const float* src, int sh, int sw, int dh, int dw, int i, int j) {
  const float y =
      (static_cast<float>(i) + 0.5f) * static_cast<float>(sh) / static_cast<float>(dh) - 0.5f;
  const float x =
      (static_cast<float>(j) + 0.5f) * static_cast<float>(sw) / static_cast<float>(dw) - 0.5f;
  return tvl1_bilinear(src, sh, sw, y, x);
}

// The image gradient at (i, j) of an h x w plane: the taps in scalars.sobel_x and sobel_y
// (kTvl1GradientX and Y) with replicated borders, as flow_image_init applies them to f2.
RF_HD void tvl1_gradient(const float* src, int h, int w, int i, int j, const FlowScalars& scalars,
                         float& gx, float& gy) {
  flow_sobel<float>(
      scalars,
      [&](int a, int b) { return src[flow_clamp(i + a - 1, h) * w + flow_clamp(j + b - 1, w)]; },
      gx, gy);
}

// The weights of the four samples at offsets -1, 0, 1, 2 around a position a fraction t in
// [0, 1) past a sample: Keys' cubic convolution with a = -0.75, the kernel of OpenCV's
// INTER_CUBIC.
RF_HD void tvl1_cubic_weights(float t, float (&c)[4]) {
  constexpr float a = -0.75f;
  const float t1 = t + 1.0f, s = 1.0f - t;
  c[0] = ((a * t1 - 5.0f * a) * t1 + 8.0f * a) * t1 - 4.0f * a;
  c[1] = ((a + 2.0f) * t - (a + 3.0f)) * t * t + 1.0f;
  c[2] = ((a + 2.0f) * s - (a + 3.0f)) * s * s + 1.0f;
  c[3] = 1.0f - c[0] - c[1] - c[2];
}

// Bicubic samples of several h x w planes at one position (y, x) inside the plane, the
// neighbourhood's rows and columns clamped into it: the weights are computed once for all.
struct Tvl1Bicubic {
  int rows[4], cols[4];
  float wy[4], wx[4];
  RF_HD Tvl1Bicubic(int h, int w, float y, float x) {
    const float fy = floorf(y), fx = floorf(x);
    tvl1_cubic_weights(y - fy, wy);
    tvl1_cubic_weights(x - fx, wx);
    for (int k = 0; k < 4; ++k) {
      rows[k] = flow_clamp(static_cast<int>(fy) + k - 1, h) * w;
      cols[k] = flow_clamp(static_cast<int>(fx) + k - 1, w);
    }
  }
  RF_HD float operator()(const float* src) const {
    float v = 0.0f;
    for (int a = 0; a < 4; ++a) {
      float row = 0.0f;
      for (int b = 0; b < 4; ++b) row += wx[b] * src[rows[a] + cols[b]];
      v += wy[a] * row;
    }
    return v;
  }
};

// The image terms of one warp at (i, j), stored at index k of `im`, for the flow (u1, u2) there:
// I1 and its gradient (i1x, i1y) sampled (bicubic) at (i + u2, j + u1), so that
//   rho(u') = I1(x + u) + g . (u' - u) - I0(x) = rho_c + g . u'
// is the data term linearised about u, with rho_c = I1(x + u) - g . u - I0(x). Where x + u
// falls outside the frame, the content there is unseen: g and rho_c are 0, which leaves the
// data term out (the thresholding step keeps u) and the smoothness term fills the flow in from
// the neighbours. (With the border replicated instead, the linearised term keeps pushing such
// flows outwards, without bound, since nothing out there ever matches better.)
RF_HD void tvl1_warp_terms(const FlowImage& im, int k, float u1, float u2, const float* i0,
                           const float* i1, const float* i1x, const float* i1y, int h, int w, int i,
                           int j) {
  const float y = static_cast<float>(i) + u2, x = static_cast<float>(j) + u1;
  const bool inside =
      y >= 0.0f && y <= static_cast<float>(h - 1) && x >= 0.0f && x <= static_cast<float>(w - 1);
  if (!inside) {
    flow_image_store_g<float>(im, k, 0.0f, 0.0f);
    im.rho_c[k] = 0.0f;
    return;
  }
  const Tvl1Bicubic at(h, w, y, x);
  const float gx = at(i1x), gy = at(i1y);
  flow_image_store_g<float>(im, k, gx, gy);
  im.rho_c[k] = at(i1) - gx * u1 - gy * u2 - i0[i * w + j];
}

}  // namespace repflow::ops
