// bench_model: a zoo model's whole training step (forward, cross-entropy, backward, the SGD step
// and the weight average's update, as the trainer runs them) and its inference, timed on the CPU
// or a GPU, in fp32 or --precision's mixed precision, with the same network in PyTorch timed in
// the same run (tools/bench_model_torch.py), in fp32 and with PyTorch's autocast.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "framework/allocator.h"
#include "framework/autograd.h"
#include "framework/cuda_graph.h"
#include "framework/flags.h"
#include "framework/generator.h"
#include "framework/parallel.h"
#include "models/model_flags.h"
#include "ops/conv/conv_algorithms.h"
#include "ops/loss/loss.h"
#include "tools/bench_timing.h"
#include "tools/kernel_times.h"
#include "tools/torch_model_config.h"
#include "tools/torch_runner.h"
#include "training/optim/averaging.h"
#include "training/optim/recipe.h"
#include "training/optim/sgd.h"

namespace repflow {
namespace {

double max_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KB on Linux
}

struct Result {
  double fwd_ms = 0, bwd_ms = 0, opt_ms = 0, train_ms = 0, infer_ms = 0;
  double graph_train_ms = 0;  // the step replayed as a CUDA graph (--cuda-graph), else 0
  double peak_mb = 0;         // the allocator's peak bytes in use over training and inference
  double rss_growth_mb = 0;   // growth of the process's max RSS over the same (both frameworks)
};

// What the GPU ran during one traced training step (--kernel-times), and the step's wall time.
struct TracedStep {
  std::vector<KernelRecord> kernels;
  double wall_ms = 0;
};

TracedStep trace_step(const Device& device, const std::function<void()>& step) {
  TracedStep t;
  t.kernels = trace_gpu_activity(device, [&] {
    const auto t0 = BenchClock::now();
    step();
    synchronize(device);
    t.wall_ms = ms_since(t0);
  });
  return t;
}

int64_t parameter_count(const Module& net) {
  int64_t n = 0;
  for (const auto& [name, p] : net.named_parameters()) n += p.numel();
  return n;
}

// With `graph`, the training step is then also recorded as a CUDA graph (framework/cuda_graph.h)
// and its replays timed: the eager steps before have made the optimiser's state and chosen the
// algorithms, and every replay repeats the recorded step's constants (the learning rate, the
// average's rate), which is a benchmark's fixed recipe anyway. With `traced`, one more eager
// step (and replay) is traced into it (--kernel-times).
Result time_model(Module& net, const Device& device, const Shape& input, int64_t classes,
                  int warmup, int steps, bool graph, std::vector<TracedStep>* traced) {
  Generator gen(0);
  const Tensor x = Tensor::normal(input, 0, 1, gen).to(device);
  std::vector<int64_t> labels(input[0]);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i) % classes;
  // The trainer's default recipe: what a training step costs beyond backward.
  const Recipe& recipe = kDefaultRecipe;
  Sgd sgd(make_param_groups(net.named_parameters(), {}, recipe.weight_decay, /*no_decay_1d=*/true),
          {recipe.momentum, 0.0, recipe.nesterov});
  AveragingOptions averaging;
  averaging.kind = AveragingKind::kEma;
  averaging.decay = recipe.ema_decay;
  ParameterAverage average(net, averaging);

  const double rss_before = max_rss_mb();
  reset_peak(device);
  std::vector<double> fwd, bwd, opt, train;
  net.train();
  for (int i = 0; i < warmup + steps; ++i) {
    const auto t0 = BenchClock::now();
    sgd.zero_grad();
    const Tensor loss = ops::cross_entropy(net.forward(x), labels);
    synchronize(device);
    const double f = ms_since(t0);
    const auto t1 = BenchClock::now();
    loss.backward();
    synchronize(device);
    const double b = ms_since(t1);
    const auto t2 = BenchClock::now();
    sgd.step(kDefaultRecipe.lr);
    average.update();
    synchronize(device);
    const double o = ms_since(t2);
    if (i >= warmup) {
      fwd.push_back(f);
      bwd.push_back(b);
      opt.push_back(o);
      train.push_back(f + b + o);
    }
  }
  // The step as the phases above run it, without the waits between them.
  const auto whole_step = [&] {
    sgd.zero_grad();
    ops::cross_entropy(net.forward(x), labels).backward();
    sgd.step(kDefaultRecipe.lr);
    average.update();
  };
  if (traced) traced->push_back(trace_step(device, whole_step));
  std::vector<double> replays;
  if (graph) {
    const CudaGraph step(device, whole_step);
    for (int i = 0; i < warmup + steps; ++i) {
      const auto t0 = BenchClock::now();
      step.replay();
      synchronize(device);
      if (i >= warmup) replays.push_back(ms_since(t0));
    }
    if (traced) traced->push_back(trace_step(device, [&] { step.replay(); }));
  }
  std::vector<double> infer;
  net.eval();
  {
    NoGradGuard no_grad;
    for (int i = 0; i < warmup + steps; ++i) {
      const auto t0 = BenchClock::now();
      const Tensor scores = net.forward(x);
      synchronize(device);
      if (i >= warmup) infer.push_back(ms_since(t0));
    }
  }
  Result r;
  r.fwd_ms = median(fwd);
  r.bwd_ms = median(bwd);
  r.opt_ms = median(opt);
  r.train_ms = median(train);
  if (graph) r.graph_train_ms = median(replays);
  r.infer_ms = median(infer);
  r.peak_mb = static_cast<double>(allocator_stats(device).peak) / (1 << 20);
  r.rss_growth_mb = max_rss_mb() - rss_before;
  return r;
}

// The eager step's record, or with `graph` the replayed one's (whose phases are not timed apart).
nlohmann::json bench_record(const std::string& impl, const std::string& mode,
                            const nlohmann::json& config, const Result& r, bool graph = false) {
  const double batch = config["input"][0].get<double>();
  const double train_ms = graph ? r.graph_train_ms : r.train_ms;
  nlohmann::json phases = {{"fwd_ms", r.fwd_ms}, {"bwd_ms", r.bwd_ms}, {"opt_ms", r.opt_ms}};
  if (graph) phases = {{"cuda_graph", true}};
  nlohmann::json record = {{"bench", "model"},
                           {"impl", impl},
                           {"mode", graph ? mode + "+graph" : mode},
                           {"config", {{"model", config["model"]}, {"input", config["input"]}}},
                           {"train_ms", train_ms},
                           {"train_clips_s", batch * 1e3 / train_ms},
                           {"infer_ms", r.infer_ms},
                           {"infer_clips_s", batch * 1e3 / r.infer_ms},
                           {"peak_mb", r.peak_mb},
                           {"rss_growth_mb", r.rss_growth_mb}};
  record.update(phases);
  return record;
}

// The file in which tools/bench_model_torch.py leaves its traced step (config's
// "kernel_times_out"), for one PyTorch mode; removed with this.
class TorchTrace {
 public:
  TorchTrace(bool wanted, nlohmann::json& config) {
    config.erase("kernel_times_out");
    if (!wanted) return;
    char path[] = "/tmp/repflow_kernels_XXXXXX";
    const int fd = mkstemp(path);
    RF_CHECK(fd >= 0, "bench_model: cannot create a temporary file for PyTorch's kernel times");
    close(fd);
    path_ = path;
    config["kernel_times_out"] = path_;
  }
  ~TorchTrace() {
    if (!path_.empty()) std::remove(path_.c_str());
  }
  TorchTrace(const TorchTrace&) = delete;
  TorchTrace& operator=(const TorchTrace&) = delete;

  // {"wall_ms": ms, "kernels": [[name, ms, calls], ...]}, as the script wrote it.
  TracedStep read() const {
    std::ifstream in(path_);
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    RF_CHECK(j.is_object() && j.contains("wall_ms") && j.contains("kernels"),
             "bench_model: tools/bench_model_torch.py left no kernel times in ", path_);
    TracedStep t;
    t.wall_ms = j["wall_ms"].get<double>();
    for (const nlohmann::json& k : j["kernels"])
      t.kernels.push_back({k[0].get<std::string>(), k[1].get<double>(), k[2].get<int64_t>()});
    return t;
  }

 private:
  std::string path_;
};

void print_row(const nlohmann::json& j, double baseline_train_ms) {
  const double train = j["train_ms"].get<double>();
  std::printf("%-8s %-10s %10.1f %9.1f %10.1f %9.1f %9.0f %9.0f %10.2f\n",
              j["impl"].get<std::string>().c_str(), j["mode"].get<std::string>().c_str(), train,
              j["train_clips_s"].get<double>(), j["infer_ms"].get<double>(),
              j["infer_clips_s"].get<double>(), j["peak_mb"].get<double>(),
              j["rss_growth_mb"].get<double>(), train / baseline_train_ms);
}

int bench(int argc, char** argv) {
  Flags flags("bench_model",
              "Times a zoo model's training step (forward, loss, backward, SGD and EMA update) "
              "and inference, and the same network in PyTorch in the same run.");
  const std::string model = Flags::peek(argc, argv, "model").value_or("resnet10_2d_tiny");
  add_model_flags(flags, model, model_defaults(model), /*with_classes=*/true);
  flags.add("batch", "16", "clips per step");
  flags.add("frames", "8", "frames per clip (T)");
  flags.add("size", "32", "frame height and width");
  flags.add("device", "cpu", "cpu or cuda[:N]");
  add_precision_flag(flags);
  ops::add_conv_algo_flag(flags);
  add_threads_flag(flags, "CPU threads for both frameworks");
  flags.add("warmup", "2", "untimed steps first (caches, algorithm choice)");
  flags.add("steps", "5", "timed steps (the median is reported)");
  flags.add("torch", "true", "also time the network in PyTorch (Debian's python3-torch)");
  flags.add("torch-amp", "true", "also time PyTorch with autocast (bf16; and TF32 on a GPU)");
  flags.add("python", kDebianPython, "the Python with Debian's torch");
  flags.add("cuda-graph", "false",
            "also time the training step recorded once as a CUDA graph and replayed (a GPU, "
            "and at least one warm-up step)");
  flags.add("kernel-times", "0",
            "after timing, trace one more training step of each implementation and print its N "
            "longest kernels, copies and memsets, and how busy the GPU was (a GPU; 0: off)");
  if (!flags.parse(argc, argv)) return 0;
  apply_threads_flag(flags);
  const std::string torch_side = flags.boolean("torch") ? python_side(argv[0], flags.str("python"),
                                                                      "tools/bench_model_torch.py")
                                                        : "";
  if (!flags.boolean("torch"))
    flags.refuse_given({"torch-amp"}, "times PyTorch: needs --torch true");
  ops::apply_conv_algo_flag(flags);
  const Device device = parse_device(flags.str("device"));
  const Precision precision = precision_from_flag(flags, device, /*say=*/true);
  const int warmup = static_cast<int>(flags.integer_in("warmup", 0, 1000));
  const int steps = static_cast<int>(flags.integer_in("steps", 1, 1000));
  const bool graph = flags.boolean("cuda-graph");
  const int kernel_rows = static_cast<int>(flags.integer_in("kernel-times", 0, 1000));
  RF_CHECK(kernel_rows == 0 || device.is_cuda(),
           "flag --kernel-times: traces a GPU's work; --device is ", device.str());
  RF_CHECK(!graph || device.is_cuda(), "flag --cuda-graph: records a GPU's work; --device is ",
           device.str());
  RF_CHECK(!graph || warmup >= 1,
           "flag --cuda-graph: needs --warmup of at least 1 (the recorded step must find the "
           "optimiser's state made)");
  const int64_t batch = flags.integer_in("batch", 1, 4096),
                frames = flags.integer_in("frames", 1, 1024),
                size = flags.integer_in("size", 1, 4096);

  const ModelSpec spec = model_spec_from_flags(flags, /*with_classes=*/true);
  const int64_t classes = std::stoll(spec.options.at("classes"));
  std::shared_ptr<Module> net = make_model(spec);
  net->to(device);
  const Shape input{batch, 3, frames, size, size};
  nlohmann::json config = torch_model_config(spec);
  config.update({{"input", input},
                 {"device", device.str()},
                 {"threads", num_threads()},
                 {"warmup", warmup},
                 {"steps", steps},
                 {"cudnn_benchmark", ops::conv_algorithms() == ops::ConvAlgorithms::kFastest},
                 {"parameters", parameter_count(*net)},
                 {"recipe",
                  {{"lr", kDefaultRecipe.lr},
                   {"momentum", kDefaultRecipe.momentum},
                   {"nesterov", kDefaultRecipe.nesterov},
                   {"weight_decay", kDefaultRecipe.weight_decay},
                   {"ema_decay", kDefaultRecipe.ema_decay}}}});
  std::printf("bench_model: %s, %lld parameters, input %s, %s, %d threads, %s cuDNN algorithms\n",
              spec.name.c_str(), static_cast<long long>(parameter_count(*net)),
              shape_str(input).c_str(), device.str().c_str(), num_threads(),
              ops::conv_algorithms_name(ops::conv_algorithms()));
  std::fflush(stdout);
  Result ours;
  std::vector<TracedStep> traced;  // ours, then our replay's
  {
    PrecisionScope scope(precision);
    ours = time_model(*net, device, input, classes, warmup, steps, graph,
                      kernel_rows > 0 ? &traced : nullptr);
  }
  std::vector<nlohmann::json> rows{
      bench_record("repflow", precision_name(precision), config, ours)};
  if (graph)
    rows.push_back(
        bench_record("repflow", precision_name(precision), config, ours, /*graph=*/true));
  for (const nlohmann::json& j : rows) std::printf("BENCH %s\n", j.dump().c_str());
  std::fflush(stdout);
  net.reset();
  // The PyTorch side needs the memory our cached blocks hold.
  host_empty_cache();
  // PyTorch's modes each in a process of their own, so that each has its own max RSS.
  std::vector<std::string> modes;
  if (flags.boolean("torch")) modes.push_back("fp32");
  if (flags.boolean("torch") && flags.boolean("torch-amp")) {
    if (device.is_cuda()) modes.push_back("tf32");
    modes.push_back("amp-bf16");
  }
  std::vector<std::string> traced_titles;
  for (const nlohmann::json& j : rows)
    traced_titles.push_back(j["impl"].get<std::string>() + " " + j["mode"].get<std::string>());
  bool skipped = false;  // no PyTorch counterpart, in any mode
  for (const std::string& mode : modes) {
    if (skipped) break;
    config["mode"] = mode;
    const TorchTrace torch_trace(kernel_rows > 0, config);
    for (const nlohmann::json& j : run_torch_benchmark(flags.str("python"), torch_side, config)) {
      if (j.contains("skipped")) {
        skipped = true;
        break;
      }
      RF_CHECK(j["parameters"] == config["parameters"], "bench_model: the PyTorch network has ",
               j["parameters"].dump(), " parameters, repflow's ", config["parameters"].dump(),
               ": they are not the same network");
      rows.push_back(j);
      if (kernel_rows > 0) {
        traced.push_back(torch_trace.read());
        traced_titles.push_back("pytorch " + mode);
      }
    }
  }
  std::printf("\n%-8s %-10s %10s %9s %10s %9s %9s %9s %10s\n", "impl", "mode", "train ms",
              "clips/s", "infer ms", "clips/s", "peak MB", "RSS+ MB", "train/ours");
  for (const nlohmann::json& j : rows) print_row(j, ours.train_ms);
  std::printf("(repflow's step: forward %.1f ms, backward %.1f ms, SGD + EMA %.1f ms)\n",
              ours.fwd_ms, ours.bwd_ms, ours.opt_ms);
  for (size_t k = 0; k < traced.size(); ++k)
    std::printf("\n%s",
                kernel_table(traced_titles[k] + ", one training step",
                             summarize_kernels(traced[k].kernels), traced[k].wall_ms, kernel_rows)
                    .c_str());
  return 0;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main([&] { return repflow::bench(argc, argv); });
}
