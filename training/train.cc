// //training:train, the project's main job. With no flags it trains a small 2-D ResNet with a
// representation-flow block on the built-in synthetic motion dataset (classes defined by motion
// alone); with --data and list files it trains any registry model on frame folders. README,
// "Training", lists the flags; `--help` prints them with their defaults.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>

#include "framework/error.h"
#include "framework/flags.h"
#include "framework/generator.h"
#include "models/model_flags.h"
#include "models/weights_io.h"
#include "training/averaging.h"
#include "training/data_flags.h"
#include "training/dist_flags.h"
#include "training/grad_reducer.h"
#include "training/lr_schedule.h"
#include "training/module_broadcast.h"
#include "training/sync_batch_norm.h"
#include "training/trainer.h"

namespace repflow {
namespace {

// Upper bound for counts given as flags: far above any real use, and within int.
constexpr int64_t kMaxCount = 1000000000;

// The default run (README, "Training"): a ResNet-10 for 32x32 frames, 8 channels wide, with a
// flow block after res2 where the features still have the frames' full resolution.
constexpr char kDefaultModel[] = "resnet10_2d";
const std::map<std::string, std::string> kDefaultModelOptions = {
    {"width", "8"}, {"stem", "small"}, {"flow", "after2"}, {"reduced-channels", "8"}};
// Defaults of flags the optimiser and averaging libraries declare: the default run's recipe
// (batch 16 gives twice the updates of 32 for the same compute and learned on every seed tried).
const std::pair<const char*, const char*> kRecipeDefaults[] = {{"lr", "0.05"},
                                                               {"lr-schedule", "cosine"},
                                                               {"average", "ema"},
                                                               {"ema-decay", "0.99"},
                                                               {"ema-warmup", "true"}};

void add_flags(Flags& flags) {
  add_model_flags(flags, kDefaultModel, /*with_classes=*/false, kDefaultModelOptions);
  flags.add("init-weights", "",
            "weight file to start from (non-strict: missing names keep "
            "their initial values, e.g. a classifier of another size)");
  add_data_flags(flags);
  flags.add("epochs", "5", "passes over the training set");
  flags.add("batch-size", "16",
            "clips per step and process (--distributed: the global batch is K times this, for "
            "the same --lr)");
  flags.add("momentum", "0.9", "SGD momentum");
  flags.add("nesterov", "false", "Nesterov momentum");
  flags.add("weight-decay", "0.0001", "L2 weight decay");
  flags.add("no-decay-1d", "true",
            "no weight decay on biases, BN scales/shifts and other 1-d "
            "parameters");
  flags.add("param-groups", "flow:0.01",
            "learning-rate groups pattern:lr_mult[:weight_decay],... by parameter-name substring "
            "(the paper trains the flow layer at 0.01x)");
  flags.add("clip-grad", "0", "clip the gradients' global L2 norm to this (0: off)");
  add_lr_schedule_flags(flags);
  add_averaging_flags(flags);
  for (const auto& [name, value] : kRecipeDefaults) flags.set_default(name, value);
  flags.add("workers", "2", "data loading threads");
  flags.add("prefetch", "4", "batches decoded ahead of training");
  flags.add("clips-per-video", "1",
            "evaluation clips per video (video-level accuracy averages "
            "their predictions)");
  flags.add("skip-bad-samples", "false",
            "skip (and report) missing or unreadable videos "
            "instead of stopping with an error");
  flags.add("run-dir", "",
            "where metrics.jsonl, chart.png, config.json, checkpoint.json and "
            "weights.json go (default runs/<model>-<date>-<time>)");
  flags.add("resume", "",
            "a run directory or checkpoint to continue from, exactly; its saved "
            "configuration is used except for flags given again");
  flags.add("quiet", "false", "no progress bar, one line per epoch");
  flags.add("seed", "0", "seed of the weights, the sampling and dropout");
  flags.add("device", "auto", "auto, cpu, cuda or cuda:N");
  add_threads_flag(flags, "CPU compute threads");
  add_dist_flags(flags);
}

std::string default_run_dir(const std::string& model) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  return "runs/" + model + "-" + stamp;
}

// --resume: the checkpoint, with the saved flags applied where the command line is silent.
Checkpoint resume(Flags& flags) {
  std::string path = user_path(flags.str("resume"));
  if (std::filesystem::is_directory(path)) path = checkpoint_path(path);
  Checkpoint c = load_checkpoint(path);
  const nlohmann::json& saved =
      c.trainer.contains("config") ? c.trainer["config"]["flags"] : nlohmann::json();
  RF_CHECK(saved.is_object(), path, ": the checkpoint has no saved configuration");
  for (const auto& [name, value] : saved.items())
    if (name != "resume" && !flags.given(name)) flags.set(name, value.get<std::string>());
  if (!flags.given("run-dir")) flags.set("run-dir", std::filesystem::path(path).parent_path());
  return c;
}

// The trainer's hooks for a data-parallel run over `comm`, gradients averaged by `reducer`.
DataParallel data_parallel(Communicator& comm, GradReducer& reducer) {
  DataParallel dp;
  dp.rank = comm.rank();
  dp.world_size = comm.world_size();
  dp.backward = [&reducer](const Tensor& loss) { reducer.backward(loss); };
  dp.reduce_sums = [&comm](std::vector<double>& values) {
    values = comm.allreduce_sum(values, "training totals");
  };
  dp.broadcast = [&comm](const NamedTensors& tensors) { broadcast_tensors(tensors, comm); };
  return dp;
}

// What the optimiser updates: the flow layer may hold fixed parameters (FlowBlockOptions).
std::vector<Tensor> learned_parameters(const Module& model) {
  std::vector<Tensor> out;
  for (const auto& [name, p] : model.named_parameters())
    if (p.requires_grad()) out.push_back(p);
  return out;
}

int train(int argc, char** argv) {
  Flags flags("train",
              "Trains a video model; with no flags, a small 2-D ResNet with a "
              "representation-flow block on built-in synthetic motion classes.");
  add_flags(flags);
  if (!flags.parse(argc, argv)) return 0;
  std::optional<Checkpoint> checkpoint;
  if (!flags.str("resume").empty()) checkpoint = resume(flags);
  Device device = parse_device(flags.str("device"));
  apply_threads_flag(flags);
  const DistOptions dist = read_dist_flags(flags);
  DistContext context;  // one process alone without --distributed
  std::unique_ptr<Communicator> comm;
  if (dist.enabled) {
    context = init_mpi();
    device = local_device(context, device);
    comm = make_communicator(context, device, dist.timeout_s);
  }

  TrainerOptions o;
  o.seed = static_cast<uint64_t>(flags.integer("seed"));
  o.epochs = flags.integer_in("epochs", 1, kMaxCount);
  o.device = device;
  o.quiet = flags.boolean("quiet");
  const DataSplits data = make_datasets(flags);

  ModelOptions model_options;
  model_options.classes = data.train->num_classes();
  model_options = model_options_from_flags(flags, model_options, /*with_classes=*/false);
  manual_seed(o.seed);
  const std::shared_ptr<Module> model = make_model(flags.str("model"), model_options);
  if (!flags.str("init-weights").empty())
    load_weights_into(*model, user_path(flags.str("init-weights")), /*strict=*/false);
  model->to(device);
  // A checkpoint (--resume) is read by every process and replaces these values alike.
  std::optional<GradReducer> reducer;
  if (comm) {
    broadcast_module(*model, *comm);
    if (dist.sync_bn) enable_sync_batch_norm(*model, *comm);
    reducer.emplace(learned_parameters(*model), *comm, dist.bucket_mb);
    o.data_parallel = data_parallel(*comm, *reducer);
  }

  for (LoaderOptions* l : {&o.train_loader, &o.val_loader}) {
    l->batch_size = flags.integer_in("batch-size", 1, kMaxCount);
    l->workers = static_cast<int>(flags.integer_in("workers", 1, kMaxCount));
    l->prefetch = static_cast<int>(flags.integer_in("prefetch", 1, kMaxCount));
    l->skip_bad_samples = flags.boolean("skip-bad-samples");
  }
  o.train_loader.drop_last = true;
  o.val_loader.order.clips_per_video =
      static_cast<int>(flags.integer_in("clips-per-video", 1, kMaxCount));
  o.group_rules = parse_group_rules(flags.str("param-groups"), "--param-groups");
  if (!flags.given("param-groups")) {
    // The default rule is for the flow layer: a model without one (--flow none) just has no
    // such group, while a rule the user typed must match something.
    const NamedTensors params = model->named_parameters();
    const auto unused = [&](const GroupRule& rule) {
      return std::none_of(params.begin(), params.end(), [&](const auto& p) {
        return p.first.find(rule.pattern) != std::string::npos;
      });
    };
    o.group_rules.erase(std::remove_if(o.group_rules.begin(), o.group_rules.end(), unused),
                        o.group_rules.end());
  }
  o.weight_decay = flags.number("weight-decay");
  o.no_decay_1d = flags.boolean("no-decay-1d");
  o.sgd.momentum = flags.number("momentum");
  o.sgd.nesterov = flags.boolean("nesterov");
  o.clip_grad_norm = flags.number("clip-grad");
  RF_CHECK(o.clip_grad_norm >= 0, "flag --clip-grad: ", o.clip_grad_norm, " is negative");
  o.schedule = lr_schedule_from_flags(flags, o.epochs);
  o.averaging = averaging_from_flags(flags);
  if (flags.str("run-dir").empty()) flags.set("run-dir", default_run_dir(flags.str("model")));
  o.run_dir = user_path(flags.str("run-dir"));
  o.resume_from = std::move(checkpoint);

  nlohmann::json saved_flags = nlohmann::json::object();
  for (const auto& [name, value] : flags.values()) saved_flags[name] = value;
  int64_t parameters = 0;
  for (const auto& [name, p] : model->named_parameters()) parameters += p.numel();
  o.config = {{"flags", saved_flags},
              {"model_parameters", parameters},
              {"classes", data.train->num_classes()},
              {"train_videos", data.train->size()},
              {"val_videos", data.val->size()},
              {"device", device.str()},
              {"processes", context.world_size}};
  if (o.data_parallel.root())
    std::cout << "model " << flags.str("model") << ": " << parameters << " parameters, "
              << data.train->num_classes() << " classes; " << data.train->size() << " training and "
              << data.val->size() << " validation videos; run directory " << o.run_dir << std::endl;

  const TrainSummary s = train_model(*model, *data.train, *data.val, o);
  if (s.interrupted) return 128 + s.interrupt_signal;
  RF_CHECK(s.last_eval.has_value(), "train: nothing to do: the checkpoint already completed ",
           s.epochs_done, " epochs (raise --epochs to continue)");
  if (o.data_parallel.root())
    std::printf("final: val_top1=%.2f val_top5=%.2f epochs=%lld seconds=%.2f\n",
                100 * s.last_eval->top1, 100 * s.last_eval->top5,
                static_cast<long long>(s.epochs_done), s.seconds);
  return 0;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  // oneDNN's OpenMP workers spin after each conv by default and then compete with our own thread
  // pool for the same cores (8 steps of the default run: 7.8 s spinning, 3.6 s passive).
  // libgomp reads the policy once, when it loads, so the process starts itself again with it.
  if (!std::getenv("OMP_WAIT_POLICY")) {
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv);
    // Without /proc the run goes on, only slower.
  }
  return repflow::run_main_distributed([&] { return repflow::train(argc, argv); });
}
