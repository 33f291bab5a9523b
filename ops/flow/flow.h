#pragma once
// The representation flow op (Piergiovanni and Ryoo, CVPR 2019, Sec. 3.2, Algorithm 1): n
// unrolled iterations of TV-L1 optical flow between two feature maps, every channel on its
// own, with learnable parameters. One fused op: hand-written forward and backward kernels.
//
// Per plane (H x W) of F1 (frame t) and F2 (frame t+1), with u = (u1, u2) the flow:
//   g = (gx, gy)   image gradients of F2: 3x3 kernels sobel_x, sobel_y applied as
//                  cross-correlation with replicated borders (defaults: Sobel / 8, so that g is
//                  the derivative in intensity per pixel).
//   g2 = gx^2 + gy^2 + 1e-12      (the epsilon keeps the division below finite where g = 0)
//   rho_c = F2 - F1; u = 0; p11 = p12 = p21 = p22 = 0
//   repeat n_iter times:
//     rho = rho_c + gx u1 + gy u2                                       (Eq. 2)
//     v = u + lambda theta g          where rho < -lambda theta g2       (Eq. 3)
//         u - lambda theta g          where rho >  lambda theta g2
//         u - rho g / g2              elsewhere        (the masks carry no gradient)
//     u1 = v1 + theta div(p11, p12); u2 = v2 + theta div(p21, p22)      (Eq. 4)
//     (u1x, u1y) = grad(u1); (u2x, u2y) = grad(u2)                        (Eq. 10)
//     p11 = (p11 + tau/theta u1x) / (1 + tau/theta |grad u1|), p12 likewise with u1y,
//     p21, p22 from u2 (Eq. 5), |grad u| = sqrt(ux^2 + uy^2 + 1e-12) (differentiable at 0).
//   div(a, b)[i,j] = div_x[0] a[i,j-1] + div_x[1] a[i,j] + div_y[0] b[i-1,j] + div_y[1] b[i,j]
//                    with zeros outside the plane (Eq. 6/9; defaults [-1, 1]: backward
//                    differences, the adjoint of the forward differences below).
//   grad(u)[i,j]  = (grad_x[0] u[i,j] + grad_x[1] u[i,j+1],  grad_y[0] u[i,j] + grad_y[1] u[i+1,j])
//                    with each component 0 on the last column (x) or last row (y) (defaults
//                    [-1, 1]: forward differences, Neumann boundary).
// Sign convention: content of F1 that moves right (down) in F2 gives positive u1 (u2), in
// pixels.
#include <array>
#include <initializer_list>
#include <string>

#include "framework/tensor.h"
#include "ops/flow/flow_math.h"

namespace repflow::ops {

// The parameters, as kFlowParamTable (ops/flow/flow_math.h) defines them: names, shapes, defaults
// and groups. Each tensor may require grad (learnable) or not (fixed). Scalars have shape [] or
// [1].
struct FlowParams {
  Tensor theta, lambda, tau;
  Tensor div_x, div_y;      // [2]
  Tensor grad_x, grad_y;    // [2]
  Tensor sobel_x, sobel_y;  // [3, 3]
  Tensor& operator[](FlowParam p) {
    return *flow_param_member(*this, p, [](Tensor& t) { return &t; });
  }
  const Tensor& operator[](FlowParam p) const {
    return *flow_param_member(*this, p, [](const Tensor& t) { return &t; });
  }
};

// One T per parameter, indexed by FlowParam.
template <class T>
class FlowParamArray {
 public:
  T& operator[](FlowParam p) { return items_[flow_param_index(p)]; }
  const T& operator[](FlowParam p) const { return items_[flow_param_index(p)]; }

 private:
  std::array<T, kFlowParamCount> items_{};
};

// Which parameter groups are learned; the others are held fixed (no gradient, and so no
// optimiser state). The default learns "tlt" and "div" (theta, lambda, tau and the divergence
// taps) and fixes "grad" (the gradient taps) and "sobel" (the Sobel kernels).
class FlowLearned {
 public:
  FlowLearned() : FlowLearned({FlowParamGroup::kTlt, FlowParamGroup::kDiv}) {}
  FlowLearned(std::initializer_list<FlowParamGroup> groups);
  static FlowLearned none() { return FlowLearned({}); }
  static FlowLearned all();
  // "none", "all", or group names joined by commas ("div,grad,tlt"), each at most once; anything
  // else is an Error listing the valid names.
  static FlowLearned parse(const std::string& text);

  bool operator[](FlowParamGroup group) const { return learned_[static_cast<int>(group)]; }
  bool operator==(const FlowLearned& other) const { return learned_ == other.learned_; }
  // "none", "all", or the learned groups' names in kFlowParamGroupNames order: parse's inverse.
  std::string str() const;

 private:
  std::array<bool, kFlowParamGroupCount> learned_{};
};

// The paper's defaults (kFlowParamTable): theta 0.3, lambda 0.15, tau 0.25, divergence and
// gradient taps [-1, 1], Sobel / 8; the groups of `learned` require grad.
FlowParams default_flow_params(const FlowLearned& learned = {}, Device device = Device::cpu());

// The parameters' values (their shapes checked: an Error names the one that is wrong) and the
// products of them that the kernels use.
FlowScalars flow_scalars(const FlowParams& params);

// f1, f2: (N, C, H, W) on one device, with the parameters. Returns (N, 2C, H, W): the C x-flow
// channels, then the C y-flow channels. Gradients for f1, f2 and every parameter that requires
// grad. theta must be nonzero: an Error on the CPU; on a GPU, where the parameters never travel
// to the host (so that no call waits for the GPU), the output is then not finite.
Tensor representation_flow(const Tensor& f1, const Tensor& f2, const FlowParams& params,
                           int n_iter);

}  // namespace repflow::ops
