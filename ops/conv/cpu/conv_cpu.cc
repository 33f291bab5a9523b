// The CPU convolution: oneDNN primitives, made once per shape and precision. oneDNN chooses the
// layouts it computes in (format_tag::any, blocked channels on AVX-512) and the algorithm; the
// user's plain tensors are reordered into and out of those layouts only when they differ. In bf16
// the primitives read bf16 inputs (src, weights, diff_dst: the reorders into oneDNN's layouts round
// them) and write float32 outputs (dst, diff_src, diff_weights), summing in float32 (AMX or
// AVX512-BF16).
#include <omp.h>

#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>

#include "framework/parallel.h"
#include "framework/tensor.h"
#include "ops/conv/conv_cache.h"
#include "ops/conv/conv_kernels.h"

namespace repflow::ops {
namespace {

using dnnl::memory;
using Dims = memory::dims;
using Args = std::unordered_map<int, memory>;

// Enough for every conv of a network, forward and backward, without evicting within a step.
constexpr size_t kCacheCapacity = 512;

const dnnl::engine& engine() {
  static const dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

memory::desc plain(const Dims& dims) {
  static const memory::format_tag tags[] = {memory::format_tag::undef, memory::format_tag::a,
                                            memory::format_tag::ab,    memory::format_tag::abc,
                                            memory::format_tag::abcd,  memory::format_tag::abcde,
                                            memory::format_tag::abcdef};
  return memory::desc(dims, memory::data_type::f32, tags[dims.size()]);
}

// Winograd F(4x4, 3x3) for convolutions with at least kWinogradChannels input and output
// channels where oneDNN implements it (fp32 3x3 stride-1 2-D convolutions on AVX-512), direct
// convolution otherwise. Winograd rounds differently from direct convolution but as finely, as
// cuDNN's Winograd kernels do on GPUs; docs/perf/models.md has its errors and speed, and shows
// narrower convolutions running slower with it (its transforms then outweigh the products they
// save). The choice depends on the problem's shape alone: oneDNN's convolution_auto also weighs
// the batch size, and then a batch split over processes would compute, and round, differently
// from the whole batch.
constexpr int64_t kWinogradChannels = 64;

template <class PrimitiveDesc, class Make>
PrimitiveDesc winograd_or_direct(const ConvGeometry& g, Make make) {
  if (g.in_channels / g.groups >= kWinogradChannels &&
      g.out_channels / g.groups >= kWinogradChannels) {
    try {
      return make(dnnl::algorithm::convolution_winograd);
    } catch (const dnnl::error&) {
      // Not implemented for this problem: direct convolution below.
    }
  }
  return make(dnnl::algorithm::convolution_direct);
}

memory::desc any(const Dims& dims, memory::data_type type = memory::data_type::f32) {
  return memory::desc(dims, type, memory::format_tag::any);
}

// The type a primitive reads its operands in: bf16 in bf16 precision, else f32 (TF32 is a GPU
// precision; on the CPU it is f32).
memory::data_type operand_type(const ConvGeometry& g) {
  return g.precision == Precision::kBf16 ? memory::data_type::bf16 : memory::data_type::f32;
}

// The problem in oneDNN's terms. Grouped weights get a leading group dim: the contiguous
// (C_out, C_in / G, k...) tensor is exactly (G, C_out / G, C_in / G, k...) in plain order.
struct Problem {
  Dims src, weights, dst, bias, strides, dilates, padding;

  explicit Problem(const ConvGeometry& g) {
    src = {g.batch, g.in_channels};
    dst = {g.batch, g.out_channels};
    if (g.groups > 1) {
      weights = {g.groups, g.out_channels / g.groups, g.in_channels / g.groups};
    } else {
      weights = {g.out_channels, g.in_channels};
    }
    bias = {g.out_channels};
    for (int d = 0; d < g.spatial; ++d) {
      src.push_back(g.in[d]);
      dst.push_back(g.out[d]);
      weights.push_back(g.kernel[d]);
      strides.push_back(g.stride[d]);
      dilates.push_back(g.dilation[d] - 1);  // oneDNN counts the holes: 0 is a dense kernel
      padding.push_back(g.padding[d]);
    }
  }
};

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  // A scratchpad per call (rather than the library's shared one) lets threads run the same
  // cached primitive at once.
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// A reorder between two layouts, or an empty one when they agree.
dnnl::reorder make_reorder(const memory::desc& from, const memory::desc& to) {
  if (from == to) return dnnl::reorder();
  return dnnl::reorder(dnnl::reorder::primitive_desc(engine(), from, engine(), to));
}

struct Forward {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward primitive;
  dnnl::reorder src_in, weights_in, dst_out;
};

struct BackwardData {
  dnnl::convolution_backward_data::primitive_desc pd;
  dnnl::convolution_backward_data primitive;
  dnnl::reorder diff_dst_in, weights_in, diff_src_out;
};

struct BackwardWeights {
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights primitive;
  dnnl::reorder src_in, diff_dst_in, diff_weights_out;
};

// oneDNN splits the work among the threads it sees when a primitive is made, so the thread
// count is part of the key (and must be set before a primitive is made: see use_our_threads).
std::vector<int64_t> cache_key(const ConvGeometry& g, int kind, bool with_bias) {
  std::vector<int64_t> key = g.key();
  key.insert(key.end(), {kind, with_bias, num_threads()});
  return key;
}

// oneDNN runs on OpenMP, whose team size is a setting of the calling thread: make it ours.
void use_our_threads() { omp_set_num_threads(num_threads()); }

std::shared_ptr<const Forward> forward(const ConvGeometry& g, const Problem& p, bool with_bias) {
  static LruCache<Forward> cache(kCacheCapacity);
  return cache.get(cache_key(g, 0, with_bias), [&] {
    using Pd = dnnl::convolution_forward::primitive_desc;
    const auto prop = dnnl::prop_kind::forward_training;
    // Bias stays plain: it is tiny, and a fixed layout means it never needs a reorder.
    const auto in = operand_type(g);
    auto f = std::make_shared<Forward>();
    f->pd = winograd_or_direct<Pd>(g, [&](dnnl::algorithm alg) {
      const auto desc =
          with_bias ? dnnl::convolution_forward::desc(prop, alg, any(p.src, in), any(p.weights, in),
                                                      plain(p.bias), any(p.dst), p.strides,
                                                      p.dilates, p.padding, p.padding)
                    : dnnl::convolution_forward::desc(prop, alg, any(p.src, in), any(p.weights, in),
                                                      any(p.dst), p.strides, p.dilates, p.padding,
                                                      p.padding);
      return Pd(desc, user_scratchpad(), engine());
    });
    f->primitive = dnnl::convolution_forward(f->pd);
    f->src_in = make_reorder(plain(p.src), f->pd.src_desc());
    f->weights_in = make_reorder(plain(p.weights), f->pd.weights_desc());
    f->dst_out = make_reorder(f->pd.dst_desc(), plain(p.dst));
    return f;
  });
}

std::shared_ptr<const BackwardData> backward_data(const ConvGeometry& g, const Problem& p) {
  static LruCache<BackwardData> cache(kCacheCapacity);
  // The hint is fetched outside the factory: the factories run under their cache's lock.
  const auto hint = forward(g, p, false);
  return cache.get(cache_key(g, 1, false), [&] {
    const auto in = operand_type(g);
    using Pd = dnnl::convolution_backward_data::primitive_desc;
    auto b = std::make_shared<BackwardData>();
    b->pd = winograd_or_direct<Pd>(g, [&](dnnl::algorithm alg) {
      const dnnl::convolution_backward_data::desc desc(alg, any(p.src), any(p.weights, in),
                                                       any(p.dst, in), p.strides, p.dilates,
                                                       p.padding, p.padding);
      return Pd(desc, user_scratchpad(), engine(), hint->pd);
    });
    b->primitive = dnnl::convolution_backward_data(b->pd);
    b->diff_dst_in = make_reorder(plain(p.dst), b->pd.diff_dst_desc());
    b->weights_in = make_reorder(plain(p.weights), b->pd.weights_desc());
    b->diff_src_out = make_reorder(b->pd.diff_src_desc(), plain(p.src));
    return b;
  });
}

std::shared_ptr<const BackwardWeights> backward_weights(const ConvGeometry& g, const Problem& p,
                                                        bool with_bias) {
  static LruCache<BackwardWeights> cache(kCacheCapacity);
  const auto hint = forward(g, p, with_bias);
  return cache.get(cache_key(g, 2, with_bias), [&] {
    using Pd = dnnl::convolution_backward_weights::primitive_desc;
    const auto in = operand_type(g);
    auto b = std::make_shared<BackwardWeights>();
    b->pd = winograd_or_direct<Pd>(g, [&](dnnl::algorithm alg) {
      const auto desc = with_bias ? dnnl::convolution_backward_weights::desc(
                                        alg, any(p.src, in), any(p.weights), plain(p.bias),
                                        any(p.dst, in), p.strides, p.dilates, p.padding, p.padding)
                                  : dnnl::convolution_backward_weights::desc(
                                        alg, any(p.src, in), any(p.weights), any(p.dst, in),
                                        p.strides, p.dilates, p.padding, p.padding);
      return Pd(desc, user_scratchpad(), engine(), hint->pd);
    });
    b->primitive = dnnl::convolution_backward_weights(b->pd);
    b->src_in = make_reorder(plain(p.src), b->pd.src_desc());
    b->diff_dst_in = make_reorder(plain(p.dst), b->pd.diff_dst_desc());
    b->diff_weights_out = make_reorder(b->pd.diff_weights_desc(), plain(p.weights));
    return b;
  });
}

// Reordered copies and scratchpads, kept per thread from call to call: a fresh allocation of
// tens of megabytes costs a page fault per 4 KB on first touch, as much as the reorder itself.
thread_local std::vector<Tensor> t_buffers;

// One execution: a stream, and the temporary buffers (reordered copies, scratchpad) it uses.
// Not reentrant on a thread, which holds because oneDNN never calls back into repflow.
class Run {
 public:
  Run() : stream_(engine()) {}

  memory user(const Dims& dims, const float* data) {
    // oneDNN wants a mutable handle; inputs are only read.
    return memory(plain(dims), engine(), const_cast<float*>(data));
  }

  memory buffer(const memory::desc& md) {
    const int64_t floats = static_cast<int64_t>((md.get_size() + 3) / 4);
    if (used_ == t_buffers.size()) t_buffers.emplace_back();
    Tensor& b = t_buffers[used_++];
    if (!b.defined() || b.numel() < floats) {
      b = Tensor();  // freed first, so the old and the new buffer never coexist
      b = Tensor::empty({floats});
    }
    return memory(md, engine(), b.data());
  }

  // `user` in the layout `want`: the user's memory itself, or a reordered copy.
  memory input(const dnnl::reorder& reorder, const memory::desc& want, memory user) {
    if (!reorder) return user;
    memory m = buffer(want);
    reorder.execute(stream_, user, m);
    return m;
  }

  // Where the primitive writes an output the user wants as `user`: the user's memory itself,
  // or a buffer that finish_output reorders into it.
  memory output(const dnnl::reorder& reorder, const memory::desc& have, const memory& user) {
    return reorder ? buffer(have) : user;
  }

  void finish_output(const dnnl::reorder& reorder, memory& have, memory& user) {
    if (reorder) reorder.execute(stream_, have, user);
  }

  void execute(const dnnl::primitive& primitive, const dnnl::primitive_desc& pd, Args args) {
    const memory::desc scratch = pd.scratchpad_desc();
    if (scratch.get_size() > 0) args[DNNL_ARG_SCRATCHPAD] = buffer(scratch);
    primitive.execute(stream_, args);
  }

  void wait() { stream_.wait(); }

 private:
  dnnl::stream stream_;
  size_t used_ = 0;  // buffers of t_buffers handed out by this run
};

// Only when the weight gradient is not wanted; otherwise oneDNN fuses this into it.
void bias_grad(const ConvGeometry& g, const float* gy, float* gb) {
  int64_t plane = 1;
  for (int d = 0; d < g.spatial; ++d) plane *= g.out[d];
  parallel_for(0, g.out_channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      double acc = 0;
      for (int64_t n = 0; n < g.batch; ++n) {
        const float* row = gy + (n * g.out_channels + c) * plane;
        for (int64_t i = 0; i < plane; ++i) acc += row[i];
      }
      gb[c] = static_cast<float>(acc);
    }
  });
}

}  // namespace

void conv_forward_cpu(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                      float* y) {
  use_our_threads();
  const Problem p(g);
  const auto f = forward(g, p, bias != nullptr);
  Run run;
  memory y_user = run.user(p.dst, y);
  memory dst = run.output(f->dst_out, f->pd.dst_desc(), y_user);
  Args args = {
      {DNNL_ARG_SRC, run.input(f->src_in, f->pd.src_desc(), run.user(p.src, x))},
      {DNNL_ARG_WEIGHTS, run.input(f->weights_in, f->pd.weights_desc(), run.user(p.weights, w))},
      {DNNL_ARG_DST, dst}};
  if (bias) args[DNNL_ARG_BIAS] = run.user(p.bias, bias);
  run.execute(f->primitive, f->pd, std::move(args));
  run.finish_output(f->dst_out, dst, y_user);
  run.wait();
}

void conv_backward_cpu(const ConvGeometry& g, const float* x, const float* w, const float* gy,
                       float* gx, float* gw, float* gb) {
  use_our_threads();
  const Problem p(g);
  Run run;
  // Both gradients read gy; when their primitives want it in the same layout, reorder once.
  memory::desc staged_gy_desc;
  memory staged_gy;
  auto diff_dst = [&](const dnnl::reorder& reorder, const memory::desc& want) {
    if (!staged_gy_desc || !(staged_gy_desc == want)) {
      staged_gy = run.input(reorder, want, run.user(p.dst, gy));
      staged_gy_desc = want;
    }
    return staged_gy;
  };
  if (gx) {
    const auto b = backward_data(g, p);
    memory gx_user = run.user(p.src, gx);
    memory diff_src = run.output(b->diff_src_out, b->pd.diff_src_desc(), gx_user);
    run.execute(
        b->primitive, b->pd,
        {{DNNL_ARG_DIFF_DST, diff_dst(b->diff_dst_in, b->pd.diff_dst_desc())},
         {DNNL_ARG_WEIGHTS, run.input(b->weights_in, b->pd.weights_desc(), run.user(p.weights, w))},
         {DNNL_ARG_DIFF_SRC, diff_src}});
    run.finish_output(b->diff_src_out, diff_src, gx_user);
  }
  if (gw) {
    const auto b = backward_weights(g, p, gb != nullptr);
    memory gw_user = run.user(p.weights, gw);
    memory diff_weights = run.output(b->diff_weights_out, b->pd.diff_weights_desc(), gw_user);
    Args args = {{DNNL_ARG_SRC, run.input(b->src_in, b->pd.src_desc(), run.user(p.src, x))},
                 {DNNL_ARG_DIFF_DST, diff_dst(b->diff_dst_in, b->pd.diff_dst_desc())},
                 {DNNL_ARG_DIFF_WEIGHTS, diff_weights}};
    if (gb) args[DNNL_ARG_DIFF_BIAS] = run.user(p.bias, gb);
    run.execute(b->primitive, b->pd, std::move(args));
    run.finish_output(b->diff_weights_out, diff_weights, gw_user);
  } else if (gb) {
    bias_grad(g, gy, gb);
  }
  run.wait();
}

}  // namespace repflow::ops
