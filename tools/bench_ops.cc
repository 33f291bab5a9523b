// bench_ops: forward and backward time of the convolution, batch-norm and pooling layers of a
// ResNet-18 on the CPU, per distinct layer and for the whole network (each layer's time times
// its count), and the same measured with PyTorch in the same run.

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "framework/allocator.h"
#include "framework/autograd.h"
#include "framework/flags.h"
#include "framework/parallel.h"
#include "ops/batch_norm/batch_norm.h"
#include "ops/conv/conv.h"
#include "ops/pool/pool.h"
#include "tools/bench_timing.h"
#include "tools/resnet18_layers.h"
#include "tools/torch_runner.h"

namespace repflow {
namespace {

const char* kind_name(LayerSpec::Kind k) {
  switch (k) {
    case LayerSpec::kConv:
      return "conv";
    case LayerSpec::kBatchNorm:
      return "batch_norm";
    case LayerSpec::kBatchNormRelu:
      return "batch_norm_relu";
    case LayerSpec::kMaxPool:
      break;
  }
  return "max_pool";
}

struct Timing {
  double fwd_ms, bwd_ms;
  size_t peak_bytes;
};

Timing time_layer(const LayerSpec& spec, int repeats, Generator& gen) {
  const int64_t c = spec.input[1];
  std::vector<Tensor> params;
  std::function<Tensor(const Tensor&)> fn;
  Tensor mean = Tensor::zeros({c}), var = Tensor::ones({c});
  if (spec.kind == LayerSpec::kConv) {
    params.push_back(Tensor::normal({spec.out_channels, c, spec.kernel, spec.kernel}, 0, 0.1f, gen)
                         .set_requires_grad());
    ops::ConvOptions o;
    o.stride = {spec.stride};
    o.padding = {spec.padding};
    fn = [w = params[0], o](const Tensor& x) { return ops::conv(x, w, Tensor(), o); };
  } else if (spec.kind == LayerSpec::kBatchNorm || spec.kind == LayerSpec::kBatchNormRelu) {
    params.push_back(Tensor::ones({c}).set_requires_grad());
    params.push_back(Tensor::zeros({c}).set_requires_grad());
    const auto op = spec.kind == LayerSpec::kBatchNorm ? ops::batch_norm : ops::batch_norm_relu;
    fn = [op, w = params[0], b = params[1], mean, var](const Tensor& x) {
      return op(x, w, b, mean, var, true, 0.1f, 1e-5f);
    };
  } else {
    ops::PoolOptions o;
    o.kernel = {spec.kernel};
    o.stride = {spec.stride};
    o.padding = {spec.padding};
    fn = [o](const Tensor& x) { return ops::max_pool(x, o); };
  }
  Tensor x = Tensor::normal(spec.input, 0, 1, gen).set_requires_grad();
  std::vector<double> fwd, bwd;
  reset_peak(Device::cpu());
  for (int i = 0; i <= repeats; ++i) {
    const auto t0 = BenchClock::now();
    const Tensor y = fn(x);
    const double f = ms_since(t0);
    const Tensor g = Tensor::ones(y.shape());
    const auto t1 = BenchClock::now();
    y.backward(g);
    const double b = ms_since(t1);
    if (i > 0) {  // the first run warms caches and primitive selection
      fwd.push_back(f);
      bwd.push_back(b);
    }
    for (Tensor& p : params) p.set_grad(Tensor());
    x.set_grad(Tensor());
  }
  return {median(fwd), median(bwd), allocator_stats(Device::cpu()).peak};
}

int bench(int argc, char** argv) {
  Flags flags("bench_ops",
              "Times ResNet-18's conv, batch-norm and pooling layers (forward and backward) on "
              "the CPU, and the same layers in PyTorch.");
  flags.add("batch", "32", "batch size");
  flags.add("size", "112", "input height and width");
  add_threads_flag(flags, "CPU threads for both frameworks");
  flags.add("repeats", "5", "timed runs per layer (median reported), after one warm-up run");
  flags.add("torch", "true", "also time PyTorch (installs Debian's python3-torch if missing)");
  flags.add("python", kDebianPython, "the Python with Debian's torch");
  if (!flags.parse(argc, argv)) return 0;
  apply_threads_flag(flags);
  const std::string torch_side =
      flags.boolean("torch") ? python_side(argv[0], flags.str("python"), "tools/bench_ops_torch.py")
                             : "";
  const int threads = num_threads();
  const int repeats = static_cast<int>(flags.integer_in("repeats", 1, 1000));
  // ResNet-18 halves the frames five times: 32 is the smallest size its last layers still see.
  const ResNet18Layers net =
      resnet18_layers(flags.integer_in("batch", 1, 4096), flags.integer_in("size", 32, 4096));

  nlohmann::json config{
      {"threads", threads}, {"repeats", repeats}, {"layers", nlohmann::json::array()}};
  for (const LayerSpec& l : net.layers)
    config["layers"].push_back({{"name", l.name},
                                {"kind", kind_name(l.kind)},
                                {"input", l.input},
                                {"out_channels", l.out_channels},
                                {"kernel", l.kernel},
                                {"stride", l.stride},
                                {"padding", l.padding}});

  Generator gen(0);
  std::vector<Timing> ours;
  for (size_t i = 0; i < net.layers.size(); ++i) {
    const LayerSpec& l = net.layers[i];
    ours.push_back(time_layer(l, repeats, gen));
    std::printf("BENCH %s\n", nlohmann::json{{"bench", "ops"},
                                             {"impl", "repflow"},
                                             {"device", "cpu"},
                                             {"threads", threads},
                                             {"config", {{"layer", l.name}, {"input", l.input}}},
                                             {"fwd_ms", ours.back().fwd_ms},
                                             {"bwd_ms", ours.back().bwd_ms},
                                             {"peak_bytes", ours.back().peak_bytes}}
                                  .dump()
                                  .c_str());
    std::fflush(stdout);
  }
  std::map<std::string, std::pair<double, double>> torch;
  // The PyTorch side needs the memory our cached blocks hold (gigabytes at the largest shapes).
  host_empty_cache();
  if (flags.boolean("torch")) {
    for (const nlohmann::json& j : run_torch_benchmark(flags.str("python"), torch_side, config))
      torch[j["config"]["layer"].get<std::string>() +
            shape_str(j["config"]["input"].get<Shape>())] = {j["fwd_ms"].get<double>(),
                                                             j["bwd_ms"].get<double>()};
  }

  std::printf("\n%-28s %-18s %5s %12s %12s %12s %8s\n", "layer", "input", "count", "repflow ms",
              "pytorch ms", "(fwd+bwd)", "ratio");
  double total_ours = 0, total_torch = 0;
  for (size_t i = 0; i < net.layers.size(); ++i) {
    const LayerSpec& l = net.layers[i];
    const double mine = ours[i].fwd_ms + ours[i].bwd_ms;
    total_ours += mine * net.count[i];
    auto it = torch.find(l.name + shape_str(l.input));
    const double theirs = it == torch.end() ? 0 : it->second.first + it->second.second;
    total_torch += theirs * net.count[i];
    std::printf("%-28s %-18s %5d %12.2f %12.2f %12s %8.2f\n", l.name.c_str(),
                shape_str(l.input).c_str(), net.count[i], mine, theirs, "",
                theirs > 0 ? mine / theirs : 0.0);
  }
  std::printf("%-28s %-18s %5s %12.2f %12.2f %12s %8.2f\n", "whole step (sum x count)", "", "",
              total_ours, total_torch, "", total_torch > 0 ? total_ours / total_torch : 0.0);
  std::printf("BENCH %s\n", nlohmann::json{{"bench", "ops"},
                                           {"impl", "repflow"},
                                           {"device", "cpu"},
                                           {"threads", threads},
                                           {"config", {{"layer", "whole step"}}},
                                           {"fwd_bwd_ms", total_ours}}
                                .dump()
                                .c_str());
  if (total_torch > 0)
    std::printf("BENCH %s\n", nlohmann::json{{"bench", "ops"},
                                             {"impl", "pytorch"},
                                             {"device", "cpu"},
                                             {"threads", threads},
                                             {"config", {{"layer", "whole step"}}},
                                             {"fwd_bwd_ms", total_torch}}
                                  .dump()
                                  .c_str());
  return 0;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main([&] { return repflow::bench(argc, argv); });
}
