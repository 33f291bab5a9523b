#include "training/trainer.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "framework/atomic_file.h"
#include "framework/autograd.h"
#include "framework/clock.h"
#include "framework/directory_lock.h"
#include "framework/error.h"
#include "framework/generator.h"
#include "framework/json_tensor.h"
#include "framework/weights.h"
#include "ops/elementwise/elementwise.h"
#include "ops/loss/loss.h"
#include "ops/reduce/reduce.h"
#include "ops/view/view.h"
#include "training/graphed_step.h"
#include "training/interrupt.h"
#include "training/report/chart.h"
#include "training/report/metrics_log.h"
#include "training/report/progress.h"
#include "training/run_files.h"

namespace repflow {

namespace {

// The largest epoch, step or clip count a checkpoint may hold: far beyond any run, and small
// enough that sums of such counts cannot overflow.
constexpr int64_t kMaxCheckpointCount = int64_t{1} << 53;

std::map<std::string, Tensor> as_map(const NamedTensors& tensors) {
  return std::map<std::string, Tensor>(tensors.begin(), tensors.end());
}

// The validation accuracies of a checkpoint's metrics line (`record`), all a run's summary
// reports of an epoch it did not train itself.
EvalResult eval_of_record(const nlohmann::json& record, const std::string& checkpoint) {
  EvalResult eval;
  for (const auto& [key, value] : {std::pair{"val_top1", &eval.top1}, {"val_top5", &eval.top5}}) {
    const auto it = record.find(key);
    RF_CHECK(
        it != record.end() && it->is_number() && it->get<double>() >= 0 && it->get<double>() <= 1,
        checkpoint, ": trainer.epoch_record.", key, " is not an accuracy in [0, 1]");
    *value = it->get<double>();
  }
  return eval;
}

// Whether the resumed checkpoint is in the run directory it continues: the checkpoint of that
// directory's own run, or an earlier one of it kept beside it.
bool resumes_in_place(const TrainerOptions& options) {
  std::error_code ec;
  return std::filesystem::equivalent(std::filesystem::path(options.resume_path).parent_path(),
                                     options.run_dir, ec);
}

// A sum of losses, clips or seconds from a checkpoint: finite and not negative, or an Error
// naming `what`.
double json_sum(const nlohmann::json& j, const std::string& what) {
  RF_CHECK(j.is_number(), what, " is ", excerpt(j.dump()), ", not a number");
  const double value = j.get<double>();
  RF_CHECK(std::isfinite(value) && value >= 0 && value <= 1e300, what, " is ", value,
           ", not a finite sum at least 0");
  return value;
}

// Running sums of the epoch's training loss and accuracy; kept in checkpoints so that an epoch
// resumed in the middle reports the same figures as an uninterrupted one.
struct EpochSums {
  double loss = 0.0, correct = 0.0;
  int64_t clips = 0;
  // Training seconds of the epoch's steps before this process took over (an interrupted
  // epoch's), so that its clips per second count the time of all of its clips.
  double train_seconds = 0.0;
  nlohmann::json to_json() const {
    return {
        {"loss", loss}, {"correct", correct}, {"clips", clips}, {"train_seconds", train_seconds}};
  }
  static EpochSums from_json(const nlohmann::json& j) {
    EpochSums sums{json_sum(j.at("loss"), "checkpoint: trainer.epoch_sums.loss"),
                   json_sum(j.at("correct"), "checkpoint: trainer.epoch_sums.correct"),
                   json_integer(j.at("clips"), "checkpoint: trainer.epoch_sums.clips", 0,
                                kMaxCheckpointCount)};
    RF_CHECK(sums.correct <= static_cast<double>(sums.clips),
             "checkpoint: trainer.epoch_sums.correct is ", sums.correct, ", more than its ",
             sums.clips, " clips");
    // Checkpoints written before the field existed count from the resume.
    if (j.contains("train_seconds"))
      sums.train_seconds =
          json_sum(j.at("train_seconds"), "checkpoint: trainer.epoch_sums.train_seconds");
    return sums;
  }
  double mean_loss() const { return clips ? loss / clips : 0.0; }
  double accuracy() const { return clips ? correct / clips : 0.0; }
};

// Where the run stands: the next step to take.
struct Position {
  int64_t epoch = 0;        // 0-based epoch in progress
  int64_t step = 0;         // steps of it already taken
  int64_t global_step = 0;  // steps over the whole run
  double seconds = 0.0;     // training seconds over the whole run
  EpochSums sums;
};

class Trainer {
 public:
  Trainer(Module& model, const Dataset& train_set, const Dataset& val_set,
          const TrainerOptions& options)
      : model_(model),
        val_set_(val_set),
        options_(options),
        train_loader_(train_set, loader_options(options.train_loader, true)),
        val_loader_(val_set, loader_options(options.val_loader, false)),
        sgd_(make_param_groups(model.named_parameters(), options.group_rules, options.weight_decay,
                               options.no_decay_1d),
             options.sgd),
        schedule_(options.schedule),
        average_(model, options.averaging),
        metrics_(metrics_path(options.run_dir)) {
    RF_CHECK(options.epochs >= 1, "train: --epochs ", options.epochs, " is not a positive count");
    RF_CHECK(train_set.num_classes() == val_set.num_classes(), "train: the training set has ",
             train_set.num_classes(), " classes but the validation set ", val_set.num_classes());
    const int processes = options.data_parallel.world_size;
    RF_CHECK(train_loader_.batches_per_epoch() > 0, "train: the training set (", train_set.size(),
             " videos) gives no batch of ", options.train_loader.batch_size * processes,
             processes > 1 ? " (" + std::to_string(options.train_loader.batch_size) +
                                 " per process x " + std::to_string(processes) + " processes)"
                           : std::string());
    // A Polyak average that starts after the last step averages nothing, and evaluation would
    // use the raw weights of a run that says it averages.
    const int64_t last_step = options.epochs * train_loader_.batches_per_epoch();
    RF_CHECK(options.averaging.kind != AveragingKind::kPolyak ||
                 options.averaging.polyak_start <= last_step,
             "flag --polyak-start: ", options.averaging.polyak_start,
             " is past the run's last step, ", last_step, " (", options.epochs, " epochs of ",
             train_loader_.batches_per_epoch(), " steps)");
    if (options.resume_from) {
      restore(*options.resume_from);
      // Refused here, before the configuration is written, rather than after a run of no epochs.
      RF_CHECK(position_.epoch < options.epochs || restored_eval_,
               "train: nothing to do: the checkpoint already "
               "completed ",
               position_.epoch, " epochs (raise --epochs to continue)");
    }
    if (options.cuda_graph) {
      RF_CHECK(options.data_parallel.world_size == 1 && options.clip_grad_norm == 0,
               "train: a CUDA graph records one process's step without clipping");
      graphed_ = std::make_unique<GraphedStep>(model_, sgd_, average_, options.device);
    }
  }

  TrainSummary run() {
    const auto start = SteadyClock::now();
    TrainSummary summary;
    InterruptGuard interrupts;
    const int64_t steps = train_loader_.batches_per_epoch();
    const auto stop = [&] {
      summary.interrupted = true;
      summary.interrupt_signal =
          InterruptGuard::requested() ? InterruptGuard::signal_number() : SIGTERM;
    };
    if (restored_eval_) {
      summary.last_eval = restored_eval_;
      out() << "the checkpoint had completed all " << position_.epoch
            << " epochs: the files the run directory lacked are written from it" << std::endl;
    }
    while (position_.epoch < options_.epochs) {
      const auto epoch_start = SteadyClock::now();
      const double seconds_before = position_.seconds;
      ProgressOptions progress_options;
      progress_options.quiet = options_.quiet;
      // mpirun gives every rank a pseudo-terminal as stdout, whatever its own stdout is (a log
      // file too), and a remote rank 0 cannot see the user's terminal: several processes draw
      // no bar, only the summary lines.
      progress_options.terminal = dp().world_size == 1 && is_terminal(stdout);
      EpochProgress progress(out(), static_cast<int>(position_.epoch + 1),
                             static_cast<int>(options_.epochs), steps, progress_options);
      model_.train();
      train_loader_.start_epoch(position_.epoch, position_.step);
      Batch batch;
      double lr = 0.0;
      while (next_batch(&batch)) {
        lr = train_step(batch, steps);
        progress.update(position_.step, position_.sums.mean_loss(), position_.sums.accuracy(),
                        position_.sums.clips);
        if (interrupt_requested() && position_.step < steps) {
          position_.seconds = seconds_before + seconds_since(epoch_start);
          position_.sums.train_seconds += seconds_since(epoch_start);
          if (dp().root()) {
            SaveGuard saving;
            save_checkpoint(checkpoint_path(options_.run_dir), checkpoint());
          }
          out() << "\ninterrupted: checkpoint saved at epoch " << position_.epoch + 1 << " step "
                << position_.step << " in " << checkpoint_path(options_.run_dir)
                << " (continue with --resume " << options_.run_dir << ")" << std::endl;
          stop();
          break;
        }
      }
      if (summary.interrupted) break;
      if (position_.sums.clips == 0) {
        // Only a loader that skipped every clip as bad (--skip-bad-samples) gives no batch at
        // all: the run would go on to evaluate and save an untrained model.
        report_bad_samples();
        RF_FAIL("train: epoch ", position_.epoch + 1,
                " gave no training batch: the clips skipped as bad (listed above) left fewer "
                "than a batch of ",
                options_.train_loader.batch_size * dp().world_size);
      }
      const double train_seconds = position_.sums.train_seconds + seconds_since(epoch_start);
      share_buffers();
      const EvalResult eval = evaluate();
      // Weights an update made non-finite can still give a finite training loss (computed before
      // the update) and an accuracy from NaN logits: neither is a result to save.
      if (!std::isfinite(eval.loss))
        diverged("the validation loss", eval.loss, "after epoch " + epoch_name());
      check_weights_finite();
      schedule_.observe(eval.top1);
      position_.seconds = seconds_before + seconds_since(epoch_start);
      finish_epoch(eval, lr, train_seconds, progress);
      summary.last_eval = eval;
      if (interrupt_requested()) {
        stop();
        out() << "interrupted: checkpoint saved after epoch " << position_.epoch << " in "
              << checkpoint_path(options_.run_dir) << std::endl;
        break;
      }
    }
    summary.epochs_done = position_.epoch;
    summary.seconds = seconds_since(start);
    report_bad_samples();
    return summary;
  }

 private:
  LoaderOptions loader_options(LoaderOptions o, bool train) const {
    o.order.train = train;
    o.order.seed = options_.seed;
    o.order.rank = options_.data_parallel.rank;
    o.order.world_size = options_.data_parallel.world_size;
    if (train) o.order.clips_per_video = 1;
    return o;
  }

  double train_step(const Batch& batch, int64_t steps) {
    const double lr = schedule_.lr(position_.epoch, position_.step, steps);
    Tensor logits;
    double loss_value = 0;
    if (graphed_) {
      // The step is taken before its loss is seen: a loss that is not finite still ends the run.
      const GraphedStep::Outputs out = graphed_->step(batch.clips, batch.labels, lr);
      logits = out.logits;
      loss_value = out.loss.item();
      check_loss(loss_value);
    } else {
      logits = model_(batch.clips.to(options_.device));
      const Tensor loss = ops::cross_entropy(logits, batch.labels);
      loss_value = loss.item();
      check_loss(loss_value);
      sgd_.zero_grad();
      dp().backward(loss);
      // Clipping sees the averaged gradient, as a single process with the global batch would.
      if (options_.clip_grad_norm > 0) sgd_.clip_grad_norm(options_.clip_grad_norm);
      sgd_.step(lr);
      if (averaging()) average_.update();
    }
    const auto n = static_cast<double>(batch.labels.size());
    std::vector<double> sums = {loss_value * n, ops::topk_accuracy(logits, batch.labels, 1) * n, n};
    dp().reduce_sums(sums);
    position_.sums.loss += sums[0];
    position_.sums.correct += sums[1];
    position_.sums.clips += static_cast<int64_t>(sums[2]);
    ++position_.step;
    ++position_.global_step;
    return lr;
  }

  bool averaging() const { return options_.averaging.kind != AveragingKind::kNone; }

  void check_loss(double loss_value) const {
    if (!std::isfinite(loss_value))
      diverged("the loss", loss_value,
               "at epoch " + epoch_name() + " step " + std::to_string(position_.step + 1));
  }

  // Evaluation with averaged weights can stay finite for a while after an update (a huge --lr or
  // --weight-decay) made the live weights non-finite; those are no checkpoint to save. The test
  // runs where the weights are: one sum of p * 0 over every parameter, non-finite exactly when
  // an element is (inf * 0 and NaN * 0 are NaN), is the only number copied to the host.
  void check_weights_finite() {
    NoGradGuard no_grad;
    const NamedTensors parameters = model_.named_parameters();
    Tensor zero;
    for (const auto& [name, p] : parameters) {
      const Tensor term = ops::sum(ops::mul(p, 0.0f));
      zero = zero.defined() ? ops::add(zero, term) : term;
    }
    if (!zero.defined() || std::isfinite(zero.item())) return;
    for (const auto& [name, p] : parameters)  // which one: the host copies only on the way out
      for (float v : p.to_vector())
        if (!std::isfinite(v)) diverged("parameter '" + name + "'", v, "in epoch " + epoch_name());
  }

  std::string epoch_name() const { return std::to_string(position_.epoch + 1); }

  // A run whose numbers left the finite range ends (exit 1): nothing it would save is a result.
  [[noreturn]] static void diverged(const std::string& what, double value,
                                    const std::string& when) {
    std::ostringstream msg;
    msg << "train: " << what << " became " << value << " " << when
        << ": the weights diverged (try a lower --lr or --weight-decay, or --clip-grad)";
    throw std::runtime_error(msg.str());
  }

  // A position inside an epoch has counted the clips of its steps: all full global batches but
  // perhaps the last (a loader that skipped bad samples ends its epoch with a short one), and
  // none at an epoch's start. Sums of another position would report made-up figures for it.
  void check_position_fits() const {
    const int64_t batch = options_.train_loader.batch_size * dp().world_size;
    const int64_t step = position_.step, clips = position_.sums.clips;
    RF_CHECK(step == 0 ? clips == 0 : clips > (step - 1) * batch && clips <= step * batch,
             "checkpoint: trainer.epoch_sums.clips is ", clips, " after step ", step,
             " of an epoch of batches of ", batch, " clips (a different batch size?)");
    RF_CHECK(position_.global_step >= step, "checkpoint: trainer.global_step ",
             position_.global_step, " is below the epoch's step ", step);
  }

  const DataParallel& dp() const { return options_.data_parallel; }
  // Progress and reports: the root's on stdout, the other processes' nowhere.
  std::ostream& out() { return dp().root() ? std::cout : silent_; }

  // The next batch when every process has one. Without bad samples skipped, the processes'
  // shards give the same number of batches; with them, a process may run out first, and the
  // others then end the epoch with it instead of waiting for its gradients.
  bool next_batch(Batch* batch) {
    std::vector<double> have = {train_loader_.next(batch) ? 1.0 : 0.0};
    dp().reduce_sums(have);
    return have[0] == dp().world_size;
  }

  // Ctrl-C reaches one process or all of them (mpirun passes it on as SIGTERM): all stop at the
  // same step.
  bool interrupt_requested() {
    std::vector<double> requested = {InterruptGuard::requested() ? 1.0 : 0.0};
    dp().reduce_sums(requested);
    return requested[0] > 0;
  }

  // Batch-norm statistics follow each process's own batches (unless synchronised); evaluation,
  // the averages and the files take the root's, as torch DistributedDataParallel does.
  void share_buffers() {
    dp().broadcast(model_.named_buffers());
    if (averaging()) dp().broadcast(average_.state());
  }

  EvalResult evaluate() {
    NoGradGuard no_grad;
    std::optional<AveragedWeightsScope> averaged;
    if (averaging()) averaged.emplace(average_);
    model_.eval();
    Evaluator evaluator(val_set_.num_classes());
    val_loader_.start_epoch(0);
    Batch batch;
    while (val_loader_.next(&batch))
      evaluator.add(model_(batch.clips.to(options_.device)), batch.labels, batch.videos);
    model_.train();
    if (dp().world_size == 1) return evaluator.result();
    std::vector<double> totals = evaluator.totals(val_set_.size());
    dp().reduce_sums(totals);
    return Evaluator::from_totals(val_set_.num_classes(), val_set_.size(), totals).result();
  }

  void finish_epoch(const EvalResult& eval, double lr, double train_seconds,
                    EpochProgress& progress) {
    nlohmann::json record = {{"epoch", position_.epoch + 1},
                             {"step", position_.global_step},
                             {"lr", lr},
                             {"train_loss", position_.sums.mean_loss()},
                             {"train_top1", position_.sums.accuracy()},
                             {"train_seconds", train_seconds},
                             {"clips_per_second", position_.sums.clips / train_seconds},
                             {"seconds", position_.seconds}};
    record.update(eval.to_json("val_"));
    std::ostringstream extra;
    extra.setf(std::ios::fixed);
    extra.precision(2);
    extra << "| val loss " << eval.loss << " top1 " << 100 * eval.top1 << "% top" << eval.top_k
          << " " << 100 * eval.top5 << "%";
    if (eval.videos != eval.clips) extra << " video top1 " << 100 * eval.video_top1 << "%";
    progress.finish(extra.str());

    ++position_.epoch;
    position_.step = 0;
    position_.sums = EpochSums();
    epoch_record_ = record;
    if (!dp().root()) return;
    SaveGuard saving;
    // The checkpoint first: a metrics line never exists without its checkpoint, and the
    // checkpoint carries the line for restore() to write should the process die before it.
    save_checkpoint(checkpoint_path(options_.run_dir), checkpoint());
    save_evaluated_weights();
    append_metrics(record);
  }

  // A line of metrics.jsonl, and the chart redrawn with it.
  void append_metrics(const nlohmann::json& record) {
    metrics_.append(record);
    write_chart(chart_path(options_.run_dir), training_chart(metrics_.records()));
  }

  // What evaluation used (the averages, when averaging), for //tools:infer.
  void save_evaluated_weights() {
    std::optional<AveragedWeightsScope> averaged;
    if (averaging()) averaged.emplace(average_);
    save_weights(weights_path(options_.run_dir), model_.state_dict(),
                 {{"meta", options_.weights_meta}});
  }

  Checkpoint checkpoint() const {
    Checkpoint c;
    c.model = model_.state_dict();
    c.optimizer = sgd_.state();
    if (averaging()) c.average = average_.state();
    const Generator& gen = default_generator();
    c.trainer = {{"epoch", position_.epoch},
                 {"step", position_.step},
                 {"global_step", position_.global_step},
                 {"seconds", position_.seconds},
                 {"epoch_sums", position_.sums.to_json()},
                 {"rng", {{"seed", gen.seed()}, {"offset", gen.offset()}}},
                 {"plateau", plateau_state_to_json(schedule_.plateau_state())},
                 {"average_updates", average_.updates()},
                 {"epoch_record", epoch_record_},
                 {"config", options_.config}};
    return c;
  }

  void restore(const Checkpoint& c) {
    const nlohmann::json& t = c.trainer;
    try {
      position_.epoch =
          json_integer(t.at("epoch"), "checkpoint: trainer.epoch", 0, kMaxCheckpointCount);
      position_.step =
          json_integer(t.at("step"), "checkpoint: trainer.step", 0, kMaxCheckpointCount);
      position_.global_step = json_integer(t.at("global_step"), "checkpoint: trainer.global_step",
                                           0, kMaxCheckpointCount);
      position_.seconds = json_sum(t.at("seconds"), "checkpoint: trainer.seconds");
      position_.sums = EpochSums::from_json(t.at("epoch_sums"));
      // Each process trains its shard of every batch: another process count cuts the epoch's
      // clips into other shards, so a position inside an epoch would skip or repeat clips.
      if (position_.step != 0 && t.contains("config") && t["config"].contains("processes")) {
        const int64_t saved =
            json_integer(t["config"]["processes"], "checkpoint: trainer.config.processes", 1,
                         kMaxCheckpointCount);
        RF_CHECK(saved == dp().world_size, "checkpoint: saved at step ", position_.step,
                 " of epoch ", position_.epoch + 1, " by ", saved, " process(es); resuming with ",
                 dp().world_size, " would skip or repeat clips of that epoch (resume with ", saved,
                 " or from an epoch's end)");
      }
      for (const char* key : {"seed", "offset"})
        RF_CHECK(t.at("rng").at(key).is_number_unsigned(), "checkpoint: trainer.rng.", key, " is ",
                 excerpt(t["rng"][key].dump()), ", not a 64-bit unsigned integer");
      default_generator().set_state(t.at("rng").at("seed").get<uint64_t>(),
                                    t.at("rng").at("offset").get<uint64_t>());
      schedule_.set_plateau_state(plateau_state_from_json(t.at("plateau")));
      // Checkpoints written before the field existed have none; their log is complete.
      if (t.contains("epoch_record")) epoch_record_ = t.at("epoch_record");
      // The last finished epoch's metrics line, which restore may write to metrics.jsonl.
      RF_CHECK(epoch_record_.is_null() ||
                   (epoch_record_.is_object() && epoch_record_.contains("epoch") &&
                    epoch_record_["epoch"] == position_.epoch),
               "checkpoint: trainer.epoch_record is not the metrics line of epoch ",
               position_.epoch, " (an object with \"epoch\": ", position_.epoch, "), got ",
               excerpt(epoch_record_.dump()));
      // Checked whether or not the run is over: a resumed run writes the line as it is into
      // metrics.jsonl when the file lacks it.
      if (!epoch_record_.is_null()) eval_of_record(epoch_record_, "checkpoint");
      check_position_fits();
      model_.load_state_dict(as_map(c.model));
      RF_CHECK(!c.optimizer.empty() || position_.global_step == 0 || options_.sgd.momentum == 0,
               "the checkpoint has no momentum buffers, but it was saved after ",
               position_.global_step, " steps with momentum");
      sgd_.load_state(as_map(c.optimizer));
      if (averaging()) {
        RF_CHECK(!c.average.empty(),
                 "the checkpoint has no averaged weights but this run "
                 "averages (--average)");
        // The average takes one update per step at most.
        average_.load_state(as_map(c.average), json_integer(t.at("average_updates"),
                                                            "checkpoint: trainer.average_updates",
                                                            0, position_.global_step));
      }
    } catch (const nlohmann::json::exception& e) {
      RF_FAIL(options_.resume_path, ": the trainer state is incomplete or mistyped: ", e.what());
    } catch (const Error& e) {
      // The state's own messages (a tensor that does not fit the model, a schedule's state) do
      // not know which file they came from.
      RF_FAIL(options_.resume_path, ": ", e.what());
    }
    RF_CHECK(position_.step < train_loader_.batches_per_epoch() || position_.step == 0,
             "checkpoint: step ", position_.step, " is beyond the epoch's ",
             train_loader_.batches_per_epoch(), " batches (a different batch size or dataset?)");
    // A checkpoint at an epoch's end may be ahead of the files finish_epoch writes after it
    // (weights.json, the metrics line, chart.png) when the process was killed in between. They
    // are written again from it, one save's cost, since nothing tells a stale weights.json from
    // a current one; should the checkpoint end the run, this is what completes its directory.
    const bool at_epoch_end = position_.step == 0 && !epoch_record_.is_null();
    metrics_ = MetricsLog::read(metrics_.path());
    metrics_.drop_after_epoch(position_.epoch);
    // The checkpoint's epoch has no metrics line when the process died between writing the
    // two (finish_epoch).
    const std::vector<nlohmann::json>& records = metrics_.records();
    const bool line_missing =
        !epoch_record_.is_null() &&
        std::none_of(records.begin(), records.end(),
                     [&](const nlohmann::json& r) { return r["epoch"] == epoch_record_["epoch"]; });
    bool complete = false;  // a finished run's directory lacking nothing (but perhaps its chart)
    if (position_.epoch >= options_.epochs) {
      // Nothing is left to train, and the constructor refuses the run unless restore completes
      // it here. Only the run's own directory is touched, by one process (with several, only
      // the root would know what it wrote). When it lacks the checkpoint's metrics line or
      // weights.json, they are written and the run is complete; otherwise only the chart is
      // drawn again (a kill while it was written), from the directory's own metrics.
      if (!resumes_in_place(options_) || dp().world_size != 1) return;
      std::error_code ec;
      complete = !line_missing && std::filesystem::exists(weights_path(options_.run_dir), ec);
      if (!complete) restored_eval_ = eval_of_record(epoch_record_, options_.resume_path);
    }
    if (options_.check) return;
    SaveGuard saving;
    if (dp().root() && at_epoch_end && !complete) save_evaluated_weights();
    if (dp().root() && line_missing) {
      append_metrics(epoch_record_);
    } else if (dp().root() && at_epoch_end) {
      // The line is there but the chart may not be: a process killed while drawing or writing
      // it left the previous epoch's (or, for a finished run, its last epoch's unfinished).
      write_chart(chart_path(options_.run_dir), training_chart(metrics_.records()));
    }
    if (position_.epoch < options_.epochs)
      out() << "resumed at epoch " << position_.epoch + 1 << " step " << position_.step
            << std::endl;
  }

  // Once per video: the loaders meet a bad video again every epoch.
  // Every process reports the bad samples of its own shards.
  void report_bad_samples() const {
    for (const DataLoader* loader : {&train_loader_, &val_loader_}) {
      if (loader->bad_sample_count() == 0) continue;
      std::map<std::string, std::string> reasons;
      for (const BadSample& b : loader->bad_samples()) reasons.emplace(b.name, b.reason);
      if (dp().world_size > 1) std::cout << "rank " << dp().rank << ": ";
      std::cout << (loader == &train_loader_ ? "training" : "validation") << ": skipped "
                << reasons.size() << " bad samples (" << loader->bad_sample_count()
                << " times over the epochs):\n";
      for (const auto& [name, reason] : reasons)
        std::cout << "  " << name << ": " << reason << "\n";
    }
  }

  Module& model_;
  const Dataset& val_set_;
  const TrainerOptions& options_;
  DataLoader train_loader_, val_loader_;
  Sgd sgd_;
  LrSchedule schedule_;
  ParameterAverage average_;
  std::unique_ptr<GraphedStep> graphed_;  // with --cuda-graph
  MetricsLog metrics_;
  Position position_;
  // The last finished epoch's metrics line, null before the first.
  nlohmann::json epoch_record_;
  // Set by restore when it completed a finished run's directory (its lost metrics line or
  // weights.json) and that was all the run had left to do: the result its summary reports.
  std::optional<EvalResult> restored_eval_;
  std::ostream silent_{nullptr};
};

// --check: the model run on the first training video's clip, without gradients. It reads a clip
// as the loader will (the data's files, decoded), and meets the model's own input checks (a clip
// too short for a model's temporal strides or its flow stages, too small for its spatial
// strides), which would otherwise stop the run at its first step, its directory made.
void check_first_clip(Module& model, const Dataset& train_set, Device device) {
  const Clip clip = train_set.clip(0, ClipRequest::evaluation(0, 1));
  NoGradGuard no_grad;
  model.eval();  // batch norm's running statistics: a batch of one clip has no spread to use
  model(ops::unsqueeze(clip.frames, 0).to(device));
}

}  // namespace

TrainSummary train_model(Module& model, const Dataset& train_set, const Dataset& val_set,
                         const TrainerOptions& options) {
  const bool root = options.data_parallel.root();
  std::optional<DirectoryLock> lock;  // held until the run ends
  if (root) {
    const std::string where = "run directory " + options.run_dir;
    std::error_code ec;
    if (options.check) {
      check_directory_can_be_made(options.run_dir, where);
    } else {
      make_directory(options.run_dir, where);
      lock.emplace(options.run_dir, where);
    }
    // A new run would overwrite another run's files one by one, leaving a directory of two
    // runs; so would a resume of another directory's checkpoint. Results without their
    // checkpoint (deleted to save space) are a finished run too.
    // A link counts as there, even a broken one.
    const auto present = [&](const std::string& file) {
      return std::filesystem::exists(std::filesystem::symlink_status(file, ec));
    };
    if (!options.resume_from) {
      for (const std::string& file : {checkpoint_path(options.run_dir),
                                      weights_path(options.run_dir), metrics_path(options.run_dir)})
        RF_CHECK(!present(file), where, " already holds a run (",
                 std::filesystem::path(file).filename().string(), "): --resume ", options.run_dir,
                 " continues it, another --run-dir starts a new one");
    } else {
      RF_CHECK(resumes_in_place(options) || !present(checkpoint_path(options.run_dir)), where,
               " already holds another run (checkpoint.json) than the one resumed from ",
               options.resume_path,
               ": resume a run in its own directory, or continue it in a new one");
    }
    // A run killed in mid-save (kill -9, a lost machine) leaves its temporary file behind.
    if (!options.check) remove_stale_temporaries(options.run_dir);
  }
  // The configuration is written once the trainer has accepted it (a resumed run's flags
  // against its checkpoint included): a refused run leaves the directory's config.json as it was.
  Trainer trainer(model, train_set, val_set, options);
  if (options.check) {
    check_first_clip(model, train_set, options.device);
    return {};
  }
  if (root) write_file_atomic(config_path(options.run_dir), options.config.dump(2) + "\n");
  return trainer.run();
}

}  // namespace repflow
