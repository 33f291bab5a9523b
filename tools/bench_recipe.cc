// bench_recipe: the default training recipe end to end. Runs //training:train (by default the
// default run: synthetic motion, resnet10_2d_tiny, SGD over parameter groups, cosine schedule,
// EMA, evaluation every epoch), then the same recipe ported to PyTorch (tools/recipe_torch.py)
// on the same data, device and thread count, in the same invocation, and compares total time,
// clips trained per second and final validation accuracy. The port reads the flags the repflow
// run saved in its config.json, so trainer flags after `--` change both sides alike.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/error.h"
#include "framework/flags.h"
#include "framework/parallel.h"
#include "framework/read_file.h"
#include "framework/weights.h"
#include "models/registry.h"
#include "tools/scratch_dir.h"
#include "tools/torch_model_config.h"
#include "tools/torch_runner.h"
#include "training/report/metrics_log.h"
#include "training/run_files.h"
#include "training/weights_meta.h"

namespace repflow {
namespace {

// Trainer flags that cannot be given after `--`: the benchmark sets them on both sides, or they
// would make the timed run another one than the recipe's (--resume trains only the epochs left,
// --check and --help none).
const std::vector<RefusedFlag> kOwnFlags = {
    {"device", "give --device before `--`"},
    {"threads", "give --threads before `--`"},
    {"epochs", "give --epochs before `--`"},
    {"run-dir", "the run goes to a scratch directory"},
    {"quiet", "the benchmark runs the trainer quiet"},
    {"resume", "both sides train the recipe from its first step"},
    {"check", "the benchmark times a whole run"},
    {"help", "train --help lists the trainer's flags"},
};

// Runs the trainer, echoing its output; returns its exit status.
int run_trainer(const std::vector<std::string>& argv) {
  std::string command;
  for (const std::string& a : argv) command += shell_word(a) + " ";
  const int status = run_echoing(command + "2>&1", [](const std::string&) {});
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

nlohmann::json read_json(const std::string& path) {
  try {
    return nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    RF_FAIL("bench_recipe: ", path, " is not JSON: ", e.what());
  }
}

// repflow's side from the run directory's per-epoch metrics (the last epoch's accuracies and
// the run's seconds, training time summed over epochs) and saved flags.
nlohmann::json repflow_record(const std::string& run_dir, const nlohmann::json& flags) {
  const MetricsLog log = MetricsLog::read(metrics_path(run_dir));
  RF_CHECK(!log.records().empty(), "bench_recipe: the run's ", log.path(), " has no epoch");
  double train_seconds = 0;
  for (const nlohmann::json& m : log.records())
    train_seconds += m.at("train_seconds").get<double>();
  const nlohmann::json& last = log.records().back();
  const int64_t clips =
      last.at("step").get<int64_t>() * std::stoll(flags.at("batch-size").get<std::string>());
  return {{"bench", "recipe"},
          {"impl", "repflow"},
          {"seconds", last.at("seconds")},
          {"train_seconds", train_seconds},
          {"clips", clips},
          {"clips_per_s", static_cast<double>(clips) / train_seconds},
          {"val_top1", 100 * last.at("val_top1").get<double>()},
          {"val_top5", 100 * last.at("val_top5").get<double>()},
          {"epochs", last.at("epoch")}};
}

void print_row(const nlohmann::json& j, const nlohmann::json& ours) {
  std::printf("| %s | %.1f | %.1f | %.1f | %.2f | %.2f | %.2f |\n",
              j["impl"].get<std::string>().c_str(), j["seconds"].get<double>(),
              j["train_seconds"].get<double>(), j["clips_per_s"].get<double>(),
              j["val_top1"].get<double>(), j["val_top5"].get<double>(),
              j["seconds"].get<double>() / ours["seconds"].get<double>());
}

int bench(int argc, char** argv) {
  // Arguments after "--" are the trainer's, for both sides.
  const SplitCommandLine split = split_at_double_dash(argc, argv);
  const std::vector<std::string>& common = split.passed_on;
  Flags flags("bench_recipe",
              "Times the default training run (//training:train) end to end against the same "
              "recipe in PyTorch (tools/recipe_torch.py: the same synthetic clips, network, "
              "optimiser, schedule, averaging and evaluation) on the same device and threads:\n"
              "  bench_recipe [flags] [-- TRAINER FLAGS]\nTrainer flags after `--` apply to both "
              "sides.");
  flags.add("device", "cpu", "cpu or cuda[:N], for both sides");
  add_threads_flag(flags, "CPU compute threads for both sides");
  flags.add("epochs", "", "epochs of both runs (empty: the trainer's default)");
  flags.add("torch", "true", "also run the recipe in PyTorch (Debian's python3-torch)");
  flags.add("python", kDebianPython, "the Python with Debian's torch");
  flags.add("train", "", "the trainer binary (default: //training:train from the runfiles)");
  if (!flags.parse(split.own_argc, argv)) return 0;
  apply_threads_flag(flags);
  const std::string torch_side =
      flags.boolean("torch") ? python_side(argv[0], flags.str("python"), "tools/recipe_torch.py")
                             : "";
  const Device device = parse_device(flags.str("device"));
  refuse_passed_on("bench_recipe", common, kOwnFlags);
  const std::string train = flags.str("train").empty() ? benchmark_script(argv[0], "training/train")
                                                       : user_path(flags.str("train"));
  std::error_code ec;
  RF_CHECK(std::filesystem::is_regular_file(train, ec), "bench_recipe: the trainer '", train,
           "' does not exist (give --train PATH)");

  const ScratchDir run_dir(std::filesystem::temp_directory_path(), "repflow_recipe_");
  std::vector<std::string> args = {
      train,       "--device",     device.str(), "--threads", std::to_string(num_threads()),
      "--run-dir", run_dir.path(), "--quiet"};
  if (!flags.str("epochs").empty())
    args.insert(args.end(),
                {"--epochs", std::to_string(flags.integer_in("epochs", 1, kMaxFlagCount))});
  args.insert(args.end(), common.begin(), common.end());
  std::printf("bench_recipe: %s, %d threads\nrepflow:", device.str().c_str(), num_threads());
  for (const std::string& a : args) std::printf(" %s", a.c_str());
  std::printf("\n");
  const int status = run_trainer(args);
  RF_CHECK(status != 2,
           "bench_recipe: the trainer stopped on bad flags or data (status 2; its message is "
           "above)");
  if (status != 0)
    throw std::runtime_error("bench_recipe: the trainer failed with status " +
                             std::to_string(status) + " (its message is above)");

  const nlohmann::json saved = read_json(config_path(run_dir.path()));
  const nlohmann::json& trainer_flags = saved.at("flags");
  nlohmann::json extra;
  load_weights(weights_path(run_dir.path()), &extra);
  const WeightsMeta meta = weights_meta_from_extra(extra, weights_path(run_dir.path()));
  RF_CHECK(meta.model.has_value(), "bench_recipe: the run's weights.json names no model");
  const ModelSpec spec = resolve_model(meta.model->name, meta.model->options);
  const nlohmann::json config = {
      {"model", trainer_flags.at("model")},       {"data", trainer_flags.at("data")},
      {"epochs", trainer_flags.at("epochs")},     {"batch_size", trainer_flags.at("batch-size")},
      {"train_videos", saved.at("train_videos")}, {"val_videos", saved.at("val_videos")},
      {"workers", trainer_flags.at("workers")}};
  nlohmann::json ours = repflow_record(run_dir.path(), trainer_flags);
  ours.update({{"device", device.str()}, {"threads", num_threads()}, {"config", config}});
  std::printf("BENCH %s\n", ours.dump().c_str());
  std::vector<nlohmann::json> rows{ours};

  if (flags.boolean("torch")) {
    std::printf("pytorch: tools/recipe_torch.py with the same flags\n");
    const nlohmann::json torch_config = {{"flags", trainer_flags},
                                         {"model", torch_model_config(spec)},
                                         {"parameters", saved.at("model_parameters")},
                                         {"device", device.str()},
                                         {"threads", num_threads()},
                                         {"config", config}};
    for (const nlohmann::json& j :
         run_torch_benchmark(flags.str("python"), torch_side, torch_config))
      rows.push_back(j);
  }
  std::printf(
      "\n| impl | seconds | training s | clips/s trained | val top-1 %% | val top-5 %% "
      "| seconds / repflow |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (const nlohmann::json& j : rows) print_row(j, ours);
  for (const nlohmann::json& j : rows)
    if (j.contains("data_wait_seconds"))
      std::printf("(%s's training: %.1f s waiting for batches, %.1f s in steps)\n",
                  j["impl"].get<std::string>().c_str(), j["data_wait_seconds"].get<double>(),
                  j["step_seconds"].get<double>());
  return 0;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main([&] { return repflow::bench(argc, argv); });
}
