// bench_flow: forward and backward time and peak memory of the fused representation-flow op on
// the CPU or a GPU for the paper's setting, and of the same algorithm as plain PyTorch tensor ops
// on the same device.
#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "framework/allocator.h"
#include "framework/flags.h"
#include "framework/parallel.h"
#include "ops/flow/flow.h"
#include "tools/bench_timing.h"
#include "tools/torch_runner.h"

namespace repflow {
namespace {

nlohmann::json time_flow(const nlohmann::json& c, int repeats, double warmup_ms, int threads,
                         Device device) {
  const int64_t pairs = c["pairs"], channels = c["channels"], size = c["size"];
  const int iters = c["iters"];
  Generator gen(0);
  const Shape shape{pairs, channels, size, size};
  Tensor f1 = Tensor::uniform(shape, 0, 255, gen).to(device).set_requires_grad();
  Tensor f2 = Tensor::uniform(shape, 0, 255, gen).to(device).set_requires_grad();
  const ops::FlowParams params = ops::default_flow_params({}, device);
  std::vector<double> fwd, bwd;
  synchronize(device);
  const size_t base = allocator_stats(device).in_use;
  reset_peak(device);
  // Untimed runs first, at least one and for at least warmup_ms: they warm the caches, and the
  // first runs of a freshly started process (under `bazel run` in particular) can be slower than
  // the ones after them.
  const auto start = BenchClock::now();
  int warmups = 0;
  for (int i = 0; i < repeats;) {
    const bool warming = warmups == 0 || ms_since(start) < warmup_ms;
    const auto t0 = BenchClock::now();
    const Tensor out = ops::representation_flow(f1, f2, params, iters);
    synchronize(device);
    const double f = ms_since(t0);
    const Tensor g = Tensor::ones(out.shape()).to(device);
    synchronize(device);
    const auto t1 = BenchClock::now();
    out.backward(g);
    synchronize(device);
    const double b = ms_since(t1);
    if (warming) {
      ++warmups;
    } else {
      fwd.push_back(f);
      bwd.push_back(b);
      ++i;
    }
    f1.set_grad(Tensor());
    f2.set_grad(Tensor());
  }
  return {{"bench", "flow_layer"},
          {"impl", "repflow"},
          {"device", device.str()},
          {"threads", threads},
          {"config", c},
          {"fwd_ms", median(fwd)},
          {"bwd_ms", median(bwd)},
          {"peak_bytes", allocator_stats(device).peak - base}};
}

int bench(int argc, char** argv) {
  Flags flags("bench_flow",
              "Times the fused representation-flow op (forward, backward, peak memory) against "
              "the same algorithm written as plain PyTorch tensor operations.");
  add_threads_flag(flags, "CPU threads for both");
  flags.add("repeats", "3", "timed runs per configuration (median), after the warm-up");
  flags.add("warmup-ms", "1000",
            "untimed runs per configuration before the timed ones, for at least this long (and "
            "at least one)");
  flags.add("torch", "true", "also time PyTorch (installs Debian's python3-torch if missing)");
  flags.add("python", kDebianPython, "the Python with Debian's torch");
  flags.add("device", "cpu", "cpu, cuda or cuda:N (PyTorch runs on the same device)");
  if (!flags.parse(argc, argv)) return 0;
  apply_threads_flag(flags);
  const std::string torch_side = flags.boolean("torch") ? python_side(argv[0], flags.str("python"),
                                                                      "tools/bench_flow_torch.py")
                                                        : "";
  const Device device = parse_device(flags.str("device"));
  const int threads = num_threads();
  const int repeats = static_cast<int>(flags.integer_in("repeats", 1, 1000));
  const double warmup_ms = flags.number_in("warmup-ms", 0, 60000);

  // The paper's setting: 16 frame pairs x 32 channels of 28 x 28, 10 and 20 iterations; and 56
  // x 56.
  nlohmann::json configs = nlohmann::json::array();
  for (auto [size, iters] :
       std::vector<std::pair<int, int>>{{28, 10}, {28, 20}, {56, 10}, {56, 20}})
    configs.push_back({{"pairs", 16}, {"channels", 32}, {"size", size}, {"iters", iters}});

  std::vector<nlohmann::json> ours;
  for (const nlohmann::json& c : configs) {
    ours.push_back(time_flow(c, repeats, warmup_ms, threads, device));
    std::printf("BENCH %s\n", ours.back().dump().c_str());
    std::fflush(stdout);
  }
  std::map<std::string, nlohmann::json> torch;
  // The PyTorch side needs the memory our cached blocks hold (gigabytes at the largest configs).
  host_empty_cache();
  if (device.is_cuda()) device_empty_cache();
  if (flags.boolean("torch")) {
    const nlohmann::json config{
        {"threads", threads}, {"repeats", repeats}, {"device", device.str()}, {"configs", configs}};
    for (const nlohmann::json& j : run_torch_benchmark(flags.str("python"), torch_side, config))
      torch[j["config"].dump()] = j;
  }
  std::printf("\n%-26s %10s %10s %12s %11s %11s %12s %9s\n", "config (pairs x C x HxW)", "fwd ms",
              "bwd ms", "peak MB", "torch fwd", "torch bwd", "torch MB*", "speedup");
  for (const nlohmann::json& r : ours) {
    const nlohmann::json& c = r["config"];
    const std::string label = std::to_string(c["pairs"].get<int>()) + "x" +
                              std::to_string(c["channels"].get<int>()) + "x" +
                              std::to_string(c["size"].get<int>()) + "^2, " +
                              std::to_string(c["iters"].get<int>()) + " it";
    const double mine = r["fwd_ms"].get<double>() + r["bwd_ms"].get<double>();
    auto it = torch.find(c.dump());
    if (it == torch.end()) {
      std::printf("%-26s %10.2f %10.2f %12.1f\n", label.c_str(), r["fwd_ms"].get<double>(),
                  r["bwd_ms"].get<double>(), r["peak_bytes"].get<double>() / 1e6);
      continue;
    }
    const nlohmann::json& t = it->second;
    const double theirs = t["fwd_ms"].get<double>() + t["bwd_ms"].get<double>();
    std::printf("%-26s %10.2f %10.2f %12.1f %11.2f %11.2f %12.1f %8.1fx\n", label.c_str(),
                r["fwd_ms"].get<double>(), r["bwd_ms"].get<double>(),
                r["peak_bytes"].get<double>() / 1e6, t["fwd_ms"].get<double>(),
                t["bwd_ms"].get<double>(), t["peak_bytes"].get<double>() / 1e6, theirs / mine);
  }
  if (!torch.empty())
    std::printf(
        "* PyTorch's memory is %s; ours is the peak of live tensor bytes.\nspeedup = "
        "PyTorch (fwd + bwd) / repflow (fwd + bwd)\n",
        device.is_cuda() ? "the growth of torch.cuda.max_memory_allocated"
                         : "the growth of its process's max RSS");
  return 0;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main([&] { return repflow::bench(argc, argv); });
}
