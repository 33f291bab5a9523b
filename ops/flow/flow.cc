// Checks and autograd wiring of the representation flow op.
//
// Backward memory. On the GPU, when a gradient is wanted, the forward saves the iterate (u1, u2,
// p11, p12, p21, p22; p as p / s, ops/flow/flow_math.h) at the start of every iteration, in the
// CUDA schedule's padded layout:
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
#include "ops/flow/flow.h"

#include <algorithm>
#include <string>
#include <vector>

#include "framework/autograd.h"
#include "framework/text.h"
#include "ops/dispatch.h"
#include "ops/flow/flow_kernels.h"
#include "ops/op_common.h"

namespace repflow::ops {
namespace {

constexpr const char* kOp = "representation_flow";

// The flow schedules by device (ops/dispatch.h); the CPU ones pick their sweeps' instruction
// set themselves (flow_cpu.cc), since the vector width also shapes their planes.
const DispatchStub<void(const FlowParamPointers<const float>&, FlowScalars*)> scalars_stub{
    "representation_flow parameters", flow_scalars_cpu, RF_CUDA_SCHEDULE(flow_scalars_cuda)};
const DispatchStub<void(const FlowShape&, const FlowScalars*, const float*, const float*, float*,
                        float*)>
    forward_stub{kOp, flow_forward_cpu, RF_CUDA_SCHEDULE(flow_forward_cuda)};
const DispatchStub<void(const FlowShape&, const FlowScalars*, const float*, const float*,
                        const float*, const float*, float*, float*,
                        const FlowParamPointers<float>&)>
    backward_stub{"representation_flow backward", flow_backward_cpu,
                  RF_CUDA_SCHEDULE(flow_backward_cuda)};

// A call's FlowScalars live in a float tensor on the op's device, which the backward keeps.
constexpr int64_t kScalarsFloats = (sizeof(FlowScalars) + sizeof(float) - 1) / sizeof(float);
static_assert(alignof(FlowScalars) <= alignof(float), "FlowScalars must fit float storage");
FlowScalars* scalars_in(const Tensor& t) { return reinterpret_cast<FlowScalars*>(t.data()); }

// The op's inputs: f1, f2, then the parameters in table order.
constexpr int kFirstParamInput = 2;
int input_of(FlowParam p) { return kFirstParamInput + flow_param_index(p); }

Shape shape_of(const FlowParamSpec& spec) { return Shape(spec.dims, spec.dims + spec.rank); }

void check_param(const FlowParamSpec& spec, const Tensor& t) {
  RF_CHECK(t.defined(), kOp, ": parameter ", spec.name, " is undefined");
  const bool scalar = spec.rank == 0;
  const bool ok =
      scalar ? (t.shape() == Shape{} || t.shape() == Shape{1}) : t.shape() == shape_of(spec);
  RF_CHECK(ok, kOp, ": parameter ", spec.name, " must have shape ",
           scalar ? std::string("[] or [1]") : shape_str(shape_of(spec)), ", got ",
           shape_str(t.shape()));
}

// Whether the gradient of any parameter of `group` is wanted.
bool group_needed(const GradMask& needs, FlowParamGroup group) {
  for (const FlowParamSpec& spec : kFlowParamTable)
    if (spec.group == group && needs[input_of(spec.id)]) return true;
  return false;
}

// The parameters, each checked (an Error names the one that is wrong), contiguous and on
// `device`, and where their values lie: what the schedules read, in table order.
struct ParamValues {
  FlowParamArray<Tensor> tensors;
  FlowParamPointers<const float> pointers{};
};

ParamValues param_values(const FlowParams& params, Device device) {
  ParamValues v;
  for (const FlowParamSpec& spec : kFlowParamTable) {
    check_param(spec, params[spec.id]);
    v.tensors[spec.id] = params[spec.id].detach().contiguous().to(device);
    v.pointers.values[flow_param_index(spec.id)] = v.tensors[spec.id].data();
  }
  return v;
}

}  // namespace

FlowScalars flow_scalars(const FlowParams& params) {
  return flow_scalars_from(param_values(params, Device::cpu()).pointers);
}

FlowLearned::FlowLearned(std::initializer_list<FlowParamGroup> groups) {
  for (FlowParamGroup g : groups) learned_[static_cast<int>(g)] = true;
}

FlowLearned FlowLearned::all() {
  FlowLearned l;
  l.learned_.fill(true);
  return l;
}

FlowLearned FlowLearned::parse(const std::string& text) {
  if (text == "none") return none();
  if (text == "all") return all();
  std::string valid = "none, all, or a comma list of";
  for (const char* name : kFlowParamGroupNames) valid += std::string(" ") + name;
  FlowLearned l = none();
  std::vector<std::string> names = split(text, ',');
  if (names.empty()) names.push_back("");  // "" names one empty group, refused below
  for (const std::string& name : names) {
    const auto* found =
        std::find_if(std::begin(kFlowParamGroupNames), std::end(kFlowParamGroupNames),
                     [&](const char* n) { return name == n; });
    RF_CHECK(found != std::end(kFlowParamGroupNames), "learned flow parameters '", excerpt(text),
             "': unknown group '", excerpt(name), "'; valid: ", valid);
    bool& slot = l.learned_[found - std::begin(kFlowParamGroupNames)];
    RF_CHECK(!slot, "learned flow parameters '", excerpt(text), "': ", name, " given twice");
    slot = true;
  }
  return l;
}

std::string FlowLearned::str() const {
  if (*this == none()) return "none";
  if (*this == all()) return "all";
  std::string out;
  for (int g = 0; g < kFlowParamGroupCount; ++g)
    if (learned_[g]) out += (out.empty() ? "" : ",") + std::string(kFlowParamGroupNames[g]);
  return out;
}

FlowParams default_flow_params(const FlowLearned& learned, Device device) {
  FlowParams p;
  for (const FlowParamSpec& spec : kFlowParamTable) {
    Tensor t = Tensor::from_vector(
        shape_of(spec), std::vector<float>(spec.defaults, spec.defaults + spec.numel()), device);
    if (learned[spec.group]) t.set_requires_grad(true);
    p[spec.id] = t;
  }
  return p;
}

Tensor representation_flow(const Tensor& f1, const Tensor& f2, const FlowParams& params,
                           int n_iter) {
  RF_CHECK(f1.defined() && f2.defined(), kOp, ": f1 and f2 must be defined");
  RF_CHECK(f1.dim() == 4, kOp, ": f1 must be (N, C, H, W), got shape ", shape_str(f1.shape()));
  RF_CHECK(f1.shape() == f2.shape(), kOp, ": f1 and f2 must have the same shape, got ",
           shape_str(f1.shape()), " and ", shape_str(f2.shape()));
  RF_CHECK(n_iter >= 1, kOp, ": n_iter must be at least 1, got ", n_iter);
  const Device device = f1.device();
  // On another device than f1's, a parameter is copied here and refused just below.
  const ParamValues values = param_values(params, device);
  std::vector<Tensor> inputs{f1, f2};
  for (const FlowParamSpec& spec : kFlowParamTable) inputs.push_back(params[spec.id]);
  check_same_device(kOp, inputs);
  const int64_t n = f1.size(0), c = f1.size(1), h = f1.size(2), w = f1.size(3);
  // Padded plane indices and the working planes of a plane are ints in the kernels.
  RF_CHECK((h + 2) * (w + 2) * kFlowBackwardPlanes < (int64_t{1} << 31), kOp, ": planes of ", h,
           " x ", w, " are too large, shape ", shape_str(f1.shape()));

  const Tensor scalars = Tensor::empty({kScalarsFloats}, device);
  scalars_stub(device, values.pointers, scalars_in(scalars));
  // On a GPU theta = 0 goes unchecked, since reading it here would wait for the GPU on every
  // call and keep a step with the op from being recorded as a CUDA graph: the output is then not
  // finite, which the trainer's loss check reports.
  if (!device.is_cuda())
    RF_CHECK(scalars_in(scalars)->theta != 0.0f, kOp,
             ": theta must be nonzero (the dual step is tau / theta)");
  const FlowShape shape{n * c, c, static_cast<int>(h), static_cast<int>(w), n_iter};
  const Tensor a = f1.detach().contiguous(), b = f2.detach().contiguous();
  Tensor out = Tensor::empty({n, 2 * c, h, w}, device);
  const bool want_grad = grad_enabled() && any_requires_grad(inputs);
  Tensor saved;
  if (want_grad && device.is_cuda())
    saved = Tensor::empty({shape.planes, flow_saved_floats(shape.h, shape.w, n_iter)}, device);
  if (out.numel() > 0) {
    forward_stub(device, shape, scalars_in(scalars), a.data(), b.data(), out.data(),
                 saved.defined() ? saved.data() : nullptr);
  }
  if (!want_grad) return out;
  FlowParamArray<Shape> param_shapes;
  for (const FlowParamSpec& spec : kFlowParamTable) param_shapes[spec.id] = params[spec.id].shape();
  return record(
      kOp, out, inputs,
      [shape, scalars, a, b, saved, param_shapes](const Tensor& grad, const GradMask& needs) {
        const Tensor g = grad.contiguous();
        FlowShape q = shape;
        q.grad_taps = group_needed(needs, FlowParamGroup::kGrad);
        q.sobel_taps = group_needed(needs, FlowParamGroup::kSobel);
        const Device dev = a.device();
        const bool empty = a.numel() == 0;
        Tensor grad_f1 = Tensor::empty(a.shape(), dev), grad_f2 = Tensor::empty(a.shape(), dev);
        std::vector<Tensor> grads{needs[0] ? grad_f1 : Tensor(), needs[1] ? grad_f2 : Tensor()};
        FlowParamPointers<float> param_grads{};
        for (const FlowParamSpec& spec : kFlowParamTable) {
          Tensor t;
          if (needs[input_of(spec.id)]) {
            // With no planes the schedules do not run, and every sum is zero.
            t = empty ? Tensor::zeros(param_shapes[spec.id], dev)
                      : Tensor::empty(param_shapes[spec.id], dev);
            param_grads.values[flow_param_index(spec.id)] = t.data();
          }
          grads.push_back(t);
        }
        if (!empty) {
          backward_stub(dev, q, scalars_in(scalars), a.data(), b.data(),
                        saved.defined() ? saved.data() : nullptr, g.data(), grad_f1.data(),
                        grad_f2.data(), param_grads);
        }
        return grads;
      });
}

}  // namespace repflow::ops
