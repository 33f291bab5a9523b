// //training:train, the project's main job. With no flags it trains a small 2-D ResNet with a
// representation-flow block on the built-in synthetic motion dataset (classes defined by motion
// alone); with --data and list files it trains any registry model on video files or frame
// folders. README, "Training", lists the flags; `--help` prints them with their defaults.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "framework/error.h"
#include "framework/flags.h"
#include "framework/generator.h"
#include "framework/text.h"
#include "models/model_flags.h"
#include "models/weights_io.h"
#include "ops/conv/conv_algorithms.h"
#include "training/data/data_flags.h"
#include "training/data/frame_dataset.h"
#include "training/distributed/dist_flags.h"
#include "training/distributed/grad_reducer.h"
#include "training/distributed/module_broadcast.h"
#include "training/distributed/same_settings.h"
#include "training/distributed/sync_batch_norm.h"
#include "training/interrupt.h"
#include "training/optim/averaging.h"
#include "training/optim/lr_schedule.h"
#include "training/optim/recipe.h"
#include "training/run_files.h"
#include "training/trainer.h"
#include "training/weights_meta.h"

namespace repflow {
namespace {

// The default run's network (README, "Training"), a preset of the registry: a ResNet-10 for
// 32x32 frames, 8 channels wide, with a flow block after res2 where the features still have the
// frames' full resolution.
constexpr char kDefaultModel[] = "resnet10_2d_tiny";
// Defaults of flags the optimiser and averaging libraries declare: the default run's recipe.
const std::pair<const char*, std::string> kRecipeDefaults[] = {
    {"lr", number_text(kDefaultRecipe.lr)},
    {"lr-schedule", "cosine"},
    {"average", "ema"},
    {"ema-decay", number_text(kDefaultRecipe.ema_decay)},
    {"ema-warmup", "true"}};

// `model`: the model whose own defaults the model flags take (and --help shows).
void add_flags(Flags& flags, const std::string& model) {
  add_model_flags(flags, model, model_defaults(model), /*with_classes=*/false);
  flags.add("init-weights", "",
            "weight file to start from: tensors whose name and shape fit are loaded, the rest "
            "(e.g. a classifier of another size) keep their initial values and are listed");
  add_data_flags(flags);
  flags.add("epochs", "5", "passes over the training set");
  flags.add("batch-size", "16",
            "clips per step and process (--distributed: the global batch is K times this, for "
            "the same --lr)");
  flags.add("momentum", number_text(kDefaultRecipe.momentum), "SGD momentum");
  flags.add("nesterov", kDefaultRecipe.nesterov ? "true" : "false", "Nesterov momentum");
  flags.add("weight-decay", number_text(kDefaultRecipe.weight_decay), "L2 weight decay");
  flags.add("no-decay-1d", "true",
            "no weight decay on biases, BN scales/shifts and other 1-d "
            "parameters");
  flags.add("param-groups", "flow:0.01",
            "learning-rate groups pattern:lr_mult[:weight_decay],... by parameter-name substring "
            "(the paper trains the flow layer at 0.01x)");
  flags.add("clip-grad", "0", "clip the gradients' global L2 norm to this (0: off)");
  flags.add("cuda-graph", "false",
            "record the training step once as a CUDA graph and replay it (a GPU, one process, "
            "no --clip-grad or dropout, a model without a flow layer)");
  add_lr_schedule_flags(flags);
  add_averaging_flags(flags);
  for (const auto& [name, value] : kRecipeDefaults) flags.set_default(name, value);
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
  flags.add("check", "false",
            "check the flags, the data lists, a resumed checkpoint, the run directory and the "
            "model on the first training clip, then exit without training or writing anything");
  flags.add("seed", "0", "seed of the weights, the sampling and dropout");
  flags.add("device", "auto", "auto, cpu, cuda or cuda:N");
  add_precision_flag(flags);
  ops::add_conv_algo_flag(flags);
  add_threads_flag(flags, "CPU compute threads");
  add_dist_flags(flags);
}

std::string default_run_dir(const std::string& model) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  return "runs/" + model + "-" + stamp;
}

// Flags that name files or directories: saved absolute, so that a run resumes from anywhere.
std::vector<std::string> path_flags() {
  std::vector<std::string> names = data_path_flags();
  names.insert(names.end(), {"init-weights", "run-dir"});
  return names;
}

// What --resume names: the checkpoint and the flags its run was configured with.
struct Resumed {
  std::string path;
  Checkpoint checkpoint;
  nlohmann::json flags;
};

// Read before the flags are declared, since the resumed run's model decides their defaults.
std::optional<Resumed> read_resumed(int argc, char** argv) {
  const std::optional<std::string> resume = Flags::peek(argc, argv, "resume");
  if (!resume || resume->empty()) return std::nullopt;
  Resumed r;
  r.path = user_path(*resume);
  if (std::filesystem::is_directory(r.path)) r.path = checkpoint_path(r.path);
  r.checkpoint = load_checkpoint(r.path);
  const nlohmann::json& t = r.checkpoint.trainer;
  if (t.contains("config") && t["config"].is_object() && t["config"].contains("flags"))
    r.flags = t["config"]["flags"];
  RF_CHECK(r.flags.is_object(), r.path, ": the checkpoint has no saved configuration");
  for (const auto& [name, value] : r.flags.items())
    RF_CHECK(value.is_string(), r.path, ": saved flag ", name, " is not a string");
  return r;
}

// The saved flags applied where the command line is silent; a saved path that no longer exists
// is an Error that says where it came from.
void apply_resumed(Flags& flags, const Resumed& r) {
  for (const auto& [name, value] : r.flags.items()) {
    try {
      if (name == "resume" || flags.given(name)) continue;
      flags.set(name, value.get<std::string>());
    } catch (const Error&) {
      RF_FAIL(r.path, ": the saved configuration has flag --", name,
              " that this trainer does not know");
    }
  }
  if (!flags.given("run-dir")) flags.set("run-dir", std::filesystem::path(r.path).parent_path());
  for (const std::string& name : data_path_flags()) {
    const std::string value = flags.str(name);
    if (flags.given(name) || value.empty()) continue;
    std::error_code ec;
    RF_CHECK(std::filesystem::exists(user_path(value), ec), "flag --", name, " '", value,
             "' comes from the saved configuration in ", r.path, " and does not exist (give --",
             name, " again)");
  }
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
  stop_with_parent();
  std::optional<Resumed> resumed = read_resumed(argc, argv);
  // The model whose defaults the flags take: the one typed, else the resumed run's, else the
  // default run's.
  std::string model_name = kDefaultModel;
  if (resumed && resumed->flags.contains("model")) model_name = resumed->flags["model"];
  model_name = Flags::peek(argc, argv, "model").value_or(model_name);
  Flags flags("train",
              "Trains a video model; with no flags, a small 2-D ResNet with a "
              "representation-flow block on built-in synthetic motion classes. Model flags "
              "default to --model's own values (shown for " +
                  model_name + ").");
  add_flags(flags, model_name);
  if (!flags.parse(argc, argv)) return 0;
  if (resumed) apply_resumed(flags, *resumed);
  for (const std::string& name : path_flags())
    if (!flags.str(name).empty())
      flags.set(name, std::filesystem::absolute(user_path(flags.str(name))).lexically_normal());
  Device device = parse_device(flags.str("device"));
  apply_threads_flag(flags);
  ops::apply_conv_algo_flag(flags);
  const DistOptions dist = read_dist_flags(flags);
  DistContext context;  // one process alone without --distributed
  std::unique_ptr<Communicator> comm;
  if (dist.enabled) {
    context = init_mpi();
    device = local_device(context, device);
    comm = make_communicator(context, device, dist.timeout_s);
    const std::vector<std::pair<std::string, std::string>> given = flags.values();
    check_same_settings(*comm, {given.begin(), given.end()}, "flags", "--");
  }

  TrainerOptions o;
  o.seed = static_cast<uint64_t>(flags.integer("seed"));
  o.epochs = flags.integer_in("epochs", 1, kMaxFlagCount);
  o.device = device;
  o.quiet = flags.boolean("quiet");
  const DataSplits data = make_datasets(flags);
  if (comm) {
    // The same flags can still find other data: each machine reads its own copy of the lists.
    std::string names;
    for (const std::string& name : data.class_names) names += name + "\n";
    check_same_settings(*comm,
                        {{"training videos", std::to_string(data.train->size())},
                         {"validation videos", std::to_string(data.val->size())},
                         {"class names", names}},
                        "data");
  }

  const ModelSpec spec = model_spec_from_flags(
      flags, /*with_classes=*/false, {{"classes", std::to_string(data.train->num_classes())}});
  manual_seed(o.seed);
  const std::shared_ptr<Module> model = make_model(spec);
  // A resumed run takes every tensor from its checkpoint.
  if (!flags.str("init-weights").empty() && !resumed) {
    const std::string path = flags.str("init-weights");
    const LoadReport report = load_weights_into(*model, path, /*strict=*/false);
    // Nothing loaded is a wrong file (another model's, or a checkpoint, whose tensors are
    // grouped), never a start from it.
    RF_CHECK(report.loaded > 0, "flag --init-weights: ", describe_partial_load(path, report),
             "\n(nothing of it fits this model; a run's checkpoint.json continues with --resume, "
             "and its weights.json is the file to start from)");
    if (!comm || comm->rank() == 0) std::cout << describe_partial_load(path, report) << std::endl;
  }
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
    l->batch_size = flags.integer_in("batch-size", 1, kMaxFlagCount);
    l->workers = static_cast<int>(flags.integer_in("workers", 1, kMaxFlagCount));
    l->prefetch = static_cast<int>(flags.integer_in("prefetch", 1, kMaxFlagCount));
    l->skip_bad_samples = flags.boolean("skip-bad-samples");
  }
  o.train_loader.drop_last = true;
  o.val_loader.order.clips_per_video =
      static_cast<int>(flags.integer_in("clips-per-video", 1, kMaxClipsPerVideo));
  o.group_rules = parse_group_rules(flags.str("param-groups"), "param-groups");
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
  RF_CHECK(o.weight_decay >= 0, "flag --weight-decay: ", o.weight_decay, " is negative");
  o.no_decay_1d = flags.boolean("no-decay-1d");
  o.sgd.momentum = flags.number_in("momentum", 0, 1);
  o.sgd.nesterov = flags.boolean("nesterov");
  o.clip_grad_norm = flags.number("clip-grad");
  RF_CHECK(o.clip_grad_norm >= 0, "flag --clip-grad: ", o.clip_grad_norm, " is negative");
  o.cuda_graph = flags.boolean("cuda-graph");
  if (o.cuda_graph) {
    // A replay repeats the host's values of the step it recorded (framework/cuda_graph.h).
    const auto dropout = spec.options.find("dropout");
    RF_CHECK(dropout == spec.options.end() || std::stod(dropout->second) == 0,
             "flag --cuda-graph: dropout draws its masks from seeds on the host, which every "
             "replay would repeat; use --dropout 0");
    RF_CHECK(o.clip_grad_norm == 0,
             "flag --cuda-graph: --clip-grad reads the gradients' norm on the host every step");
    RF_CHECK(!dist.enabled, "flag --cuda-graph: records one process's step (not --distributed)");
    RF_CHECK(device.is_cuda(), "flag --cuda-graph: records a GPU's work; --device is ",
             device.str());
  }
  o.schedule = lr_schedule_from_flags(flags, o.epochs);
  o.averaging = averaging_from_flags(flags);
  if (flags.str("run-dir").empty())
    flags.set("run-dir", std::filesystem::absolute(user_path(default_run_dir(flags.str("model"))))
                             .lexically_normal());
  o.run_dir = flags.str("run-dir");
  if (resumed) {
    o.resume_from = std::move(resumed->checkpoint);
    o.resume_path = resumed->path;
  }
  WeightsMeta meta;
  meta.model = spec;
  meta.class_names = data.class_names;
  meta.input = data.input;
  meta.input.clips = o.val_loader.order.clips_per_video;
  o.weights_meta = weights_meta_to_json(meta);

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
  if (o.data_parallel.root()) {
    for (const std::string& note : data.notes) std::cout << "note: " << note << std::endl;
    std::cout << "model " << flags.str("model") << ": " << parameters << " parameters, "
              << data.train->num_classes() << " classes; " << data.train->size() << " training and "
              << data.val->size() << " validation videos; run directory " << o.run_dir << std::endl;
  }

  const Precision precision = precision_from_flag(flags, device, o.data_parallel.root());
  PrecisionScope precision_scope(precision);
  o.check = flags.boolean("check");
  const TrainSummary s = train_model(*model, *data.train, *data.val, o);
  if (o.check) {
    if (o.data_parallel.root()) std::cout << "check: nothing was trained or written" << std::endl;
    return 0;
  }
  if (s.interrupted) return 128 + s.interrupt_signal;
  if (o.data_parallel.root())
    std::printf("final: val_top1=%.2f val_top5=%.2f epochs=%lld seconds=%.2f\n",
                100 * s.last_eval->top1, 100 * s.last_eval->top5,
                static_cast<long long>(s.epochs_done), s.seconds);
  return 0;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main_distributed([&] { return repflow::train(argc, argv); });
}
