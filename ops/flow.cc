// Checks and autograd wiring of the representation flow op.
//
// Backward memory. On the GPU, when a gradient is wanted, the forward saves the iterate (u1, u2,
// p11, p12, p21, p22; p as p / s, ops/flow_math.h) at the start of every iteration, in the CUDA
// schedule's padded layout:
//   24 * n_iter * (H + 2) * (W + 2) bytes per (sample, channel) plane,
// e.g. 216,000 bytes for a 28 x 28 plane and 10 iterations, 110.6 MB for 16 x 32 such planes.
// The CPU saves nothing: its backward runs each plane's forward again, up to the start of the
// last iteration, into a per-thread buffer of n_iter iterates (24 * n_iter bytes per cell of its
// iteration layout, the plane's rows back to back between zero margins, FlowCpuGrid: 848 cells
// and 204 KB at 28 x 28 and 10 iterations with AVX-512) plus 19 working planes of that layout
// and 5 of its padded Sobel layout (64 + 21 KB) and the gradient partials per vector lane
// (3.5 KB), and reverses it while the buffer is in cache. The
// image gradients and rho_c are recomputed from the saved inputs on both (a 3 x 3 stencil per
// pixel, once per plane). Storing rather than recomputing each iterate from the start keeps the
// backward at a few forward passes instead of O(n_iter^2) of them.
#include "ops/flow.h"

#include <string>
#include <vector>

#include "framework/autograd.h"
#include "ops/flow_kernels.h"
#include "ops/op_common.h"

namespace repflow::ops {
namespace {

constexpr const char* kOp = "representation_flow";

// The parameters in the order of the op's inputs after f1, f2, and of FlowScalars.
std::vector<Tensor> param_list(const FlowParams& p) {
  return {p.theta, p.lambda, p.tau, p.div_x, p.div_y, p.grad_x, p.grad_y, p.sobel_x, p.sobel_y};
}

struct ParamSpec {
  const char* name;
  int64_t numel;  // 1 for scalars, which may have shape [] or [1]
  Shape shape;
};

const ParamSpec kParamSpecs[] = {
    {"theta", 1, {}},   {"lambda", 1, {}},      {"tau", 1, {}},
    {"div_x", 2, {2}},  {"div_y", 2, {2}},      {"grad_x", 2, {2}},
    {"grad_y", 2, {2}}, {"sobel_x", 9, {3, 3}}, {"sobel_y", 9, {3, 3}},
};

void check_param(const ParamSpec& spec, const Tensor& t) {
  RF_CHECK(t.defined(), kOp, ": parameter ", spec.name, " is undefined");
  const bool ok =
      spec.numel == 1 ? (t.shape() == Shape{} || t.shape() == Shape{1}) : t.shape() == spec.shape;
  RF_CHECK(ok, kOp, ": parameter ", spec.name, " must have shape ",
           spec.numel == 1 ? std::string("[] or [1]") : shape_str(spec.shape), ", got ",
           shape_str(t.shape()));
}

FlowScalars read_scalars(const std::vector<Tensor>& params) {
  std::vector<float> v;
  for (const Tensor& t : params) {
    const std::vector<float> values = t.to_vector();
    v.insert(v.end(), values.begin(), values.end());
  }
  FlowScalars s;
  float* fields[] = {&s.theta, &s.lambda, &s.tau,    s.div_x,  s.div_y,
                     s.grad_x, s.grad_y,  s.sobel_x, s.sobel_y};
  size_t at = 0;
  for (size_t k = 0; k < params.size(); ++k)
    for (int64_t e = 0; e < kParamSpecs[k].numel; ++e) fields[k][e] = v[at++];
  flow_set_products(s);
  return s;
}

}  // namespace

FlowParams default_flow_params(bool learnable_gradients, bool learnable_sobel, Device device) {
  auto make = [&](const Shape& shape, const std::vector<float>& values, bool learnable) {
    Tensor t = Tensor::from_vector(shape, values, device);
    if (learnable) t.set_requires_grad(true);
    return t;
  };
  const float e = 1.0f / 8.0f;
  FlowParams p;
  p.theta = make({}, {0.3f}, true);
  p.lambda = make({}, {0.15f}, true);
  p.tau = make({}, {0.25f}, true);
  p.div_x = make({2}, {-1.0f, 1.0f}, true);
  p.div_y = make({2}, {-1.0f, 1.0f}, true);
  p.grad_x = make({2}, {-1.0f, 1.0f}, learnable_gradients);
  p.grad_y = make({2}, {-1.0f, 1.0f}, learnable_gradients);
  p.sobel_x = make({3, 3}, {-e, 0, e, -2 * e, 0, 2 * e, -e, 0, e}, learnable_sobel);
  p.sobel_y = make({3, 3}, {-e, -2 * e, -e, 0, 0, 0, e, 2 * e, e}, learnable_sobel);
  return p;
}

Tensor representation_flow(const Tensor& f1, const Tensor& f2, const FlowParams& params,
                           int n_iter) {
  RF_CHECK(f1.defined() && f2.defined(), kOp, ": f1 and f2 must be defined");
  RF_CHECK(f1.dim() == 4, kOp, ": f1 must be (N, C, H, W), got shape ", shape_str(f1.shape()));
  RF_CHECK(f1.shape() == f2.shape(), kOp, ": f1 and f2 must have the same shape, got ",
           shape_str(f1.shape()), " and ", shape_str(f2.shape()));
  RF_CHECK(n_iter >= 1, kOp, ": n_iter must be at least 1, got ", n_iter);
  const std::vector<Tensor> plist = param_list(params);
  for (size_t k = 0; k < plist.size(); ++k) check_param(kParamSpecs[k], plist[k]);
  std::vector<Tensor> inputs{f1, f2};
  inputs.insert(inputs.end(), plist.begin(), plist.end());
  check_same_device(kOp, inputs);
  const int64_t n = f1.size(0), c = f1.size(1), h = f1.size(2), w = f1.size(3);
  // Padded plane indices and the working planes of a plane are ints in the kernels.
  RF_CHECK((h + 2) * (w + 2) * kFlowBackwardPlanes < (int64_t{1} << 31), kOp, ": planes of ", h,
           " x ", w, " are too large, shape ", shape_str(f1.shape()));

  FlowProblem pb{n * c, c, static_cast<int>(h), static_cast<int>(w), n_iter, read_scalars(plist)};
  RF_CHECK(pb.s.theta != 0.0f, kOp, ": theta must be nonzero (the dual step is tau / theta)");
  const Device device = f1.device();
  const Tensor a = f1.detach().contiguous(), b = f2.detach().contiguous();
  Tensor out = Tensor::empty({n, 2 * c, h, w}, device);
  const bool want_grad = grad_enabled() && any_requires_grad(inputs);
  Tensor saved;
  if (want_grad && device.is_cuda())
    saved = Tensor::empty({pb.planes, flow_saved_floats(pb.h, pb.w, n_iter)}, device);
  if (out.numel() > 0) {
    if (device.is_cuda()) {
      RF_CUDA_CALL(flow_forward_cuda(device.index, pb, a.data(), b.data(), out.data(),
                                     want_grad ? saved.data() : nullptr));
    } else {
      flow_forward_cpu(pb, a.data(), b.data(), out.data());
    }
  }
  if (!want_grad) return out;
  std::vector<Shape> param_shapes;
  for (const Tensor& t : plist) param_shapes.push_back(t.shape());
  return record(
      kOp, out, inputs, [pb, a, b, saved, param_shapes](const Tensor& grad, const GradMask& needs) {
        const Tensor g = grad.contiguous();
        FlowProblem q = pb;
        q.grad_taps = needs[7] || needs[8];
        q.sobel_taps = needs[9] || needs[10];
        const Device dev = a.device();
        Tensor grad_f1 = Tensor::empty(a.shape(), dev), grad_f2 = Tensor::empty(a.shape(), dev);
        double sums[kFlowSlots] = {};
        if (a.numel() > 0) {
          if (dev.is_cuda()) {
            RF_CUDA_CALL(flow_backward_cuda(dev.index, q, a.data(), b.data(), saved.data(),
                                            g.data(), grad_f1.data(), grad_f2.data(), sums));
          } else {
            flow_backward_cpu(q, a.data(), b.data(), g.data(), grad_f1.data(), grad_f2.data(),
                              sums);
          }
        }
        float values[kFlowParamGrads];
        flow_param_grads(pb.s, sums, values);
        std::vector<Tensor> grads{needs[0] ? grad_f1 : Tensor(), needs[1] ? grad_f2 : Tensor()};
        const float* at = values;
        for (size_t k = 0; k < param_shapes.size(); ++k) {
          const int64_t m = kParamSpecs[k].numel;
          grads.push_back(needs[k + 2] ? Tensor::from_vector(param_shapes[k],
                                                             std::vector<float>(at, at + m), dev)
                                       : Tensor());
          at += m;
        }
        return grads;
      });
}

}  // namespace repflow::ops
