// infer: a video (a video file, a directory of frames, or clips prepared elsewhere as a .npy
// array) through a model of the zoo with its weights; prints the top-k classes with softmax
// probabilities. A weight file's metadata (training/weights_meta.h) gives the model and clip
// defaults.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>

#include "framework/atomic_file.h"
#include "framework/autograd.h"
#include "framework/clock.h"
#include "framework/flags.h"
#include "models/model_flags.h"
#include "models/weights_io.h"
#include "ops/loss/loss.h"
#include "ops/reduce/reduce.h"
#include "tools/clip_input.h"
#include "training/data/list_parsing.h"

namespace repflow {
namespace {

// One name per line; a final newline does not start another name. read_lines refuses what is
// not a regular file: a directory read as no labels, a device as endless ones.
std::vector<std::string> read_labels(const std::string& path, int64_t classes) {
  std::vector<std::string> names;
  for (const std::string& line : read_lines(path)) {
    RF_CHECK(!line.empty(), path, ": line ", names.size() + 1, " is empty (one name per line)");
    check_class_name(line, path + ":" + std::to_string(names.size() + 1));
    names.push_back(line);
  }
  RF_CHECK(static_cast<int64_t>(names.size()) == classes, path, ": has ", names.size(),
           " labels but the model has ", classes, " classes (--classes)");
  return names;
}

std::string logits_json(const Tensor& logits) {
  const std::vector<float> v = logits.to_vector();
  const int64_t n = logits.size(0), classes = logits.size(1);
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t i = 0; i < n; ++i)
    rows.push_back(std::vector<float>(v.begin() + i * classes, v.begin() + (i + 1) * classes));
  return rows.dump() + "\n";
}

// Per row of `probabilities`: the top classes under the heading `name(row)`.
void print_top(const Tensor& probabilities, int64_t top, const std::vector<std::string>& labels,
               const std::function<std::string(int64_t)>& name) {
  const std::vector<float> p = probabilities.to_vector();
  const int64_t n = probabilities.size(0), classes = probabilities.size(1);
  for (int64_t s = 0; s < n; ++s) {
    const float* row = p.data() + s * classes;
    std::vector<int64_t> order(classes);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return row[a] > row[b]; });
    std::printf("%s: top %lld\n", name(s).c_str(), static_cast<long long>(top));
    for (int64_t k = 0; k < top; ++k) {
      const int64_t c = order[k];
      const std::string label = labels.empty() ? "" : "  " + labels[c];
      std::printf("  %2lld. %.6f  class %lld%s\n", static_cast<long long>(k + 1), row[c],
                  static_cast<long long>(c), label.c_str());
    }
  }
}

int run(int argc, char** argv) {
  const std::optional<WeightsFile> weights = read_weights_file(argc, argv);
  const WeightsMeta meta = weights ? weights->meta : WeightsMeta();
  Flags flags("infer",
              "Classifies a video with a model of the zoo and its weights:\n"
              "  infer --weights W.json (--video FILE|DIR | --input-npy F.npy) [--model NAME ...]\n"
              "A weight file written by the trainer (or converted with metadata) names its model, "
              "classes and clip\ngeometry, and the flags below default to them (flags given "
              "override). A video is a video file\nFFmpeg decodes (.mp4, .avi, .mkv, .webm, ...) "
              "or a directory of .jpg/.jpeg/.png/.bmp frames in\nnatural order; --clips clips of "
              "--frames frames --stride apart are cut exactly as the trainer's\nevaluation cuts "
              "them (clip i starts in the middle of the i-th of N equal parts of the possible\n"
              "starts; a short video loops from its first frame), resized (shorter side), "
              "centre-cropped and\nnormalised, and the video's prediction is the mean of the "
              "clips' probabilities.\nA .npy array (float32, N,C,T,H,W) is fed as is, one "
              "prediction per sample.");
  add_model_and_clip_flags(flags, argc, argv, weights);
  flags.add("labels", "",
            "class names, one per line, as many as --classes (default: the weight file's)");
  flags.add("top", "5", "classes to print per prediction (at most --classes are printed)");
  flags.add("logits-out", "", "write the raw logits as a JSON array of arrays, one per clip");
  flags.add("device", "auto", "auto, cpu, cuda or cuda:N");
  add_precision_flag(flags);
  add_threads_flag(flags, "CPU threads");
  if (!flags.parse(argc, argv)) return 0;
  apply_threads_flag(flags);
  const Device device = parse_device(flags.str("device"));
  RF_CHECK(weights, "infer: flag --weights is required");
  // Checked before the model runs, which can take minutes.
  const std::string logits_out = user_path(flags.str("logits-out"));
  if (!logits_out.empty()) {
    std::vector<std::string> inputs = clip_input_paths(flags, *weights);
    inputs.push_back(user_path(flags.str("labels")));
    check_output_file(logits_out, "flag --logits-out", inputs);
  }
  const bool video = !flags.str("video").empty();
  const ModelSpec spec = model_spec_from_flags(flags, /*with_classes=*/true);
  const int64_t classes = std::stoll(spec.options.at("classes"));
  const int64_t top = std::min(flags.integer_in("top", 1, 1000000), classes);
  std::vector<std::string> labels = meta.class_names;
  if (!flags.str("labels").empty()) {
    labels = read_labels(user_path(flags.str("labels")), classes);
  } else {
    // Names for another class count would label the scores wrongly or not at all.
    RF_CHECK(labels.empty() || static_cast<int64_t>(labels.size()) == classes, weights->path,
             ": meta.class_names has ", labels.size(), " names but the model has ", classes,
             " classes (--labels FILE names them instead)");
  }

  auto start = SteadyClock::now();
  std::string what;
  const Tensor clips = read_clips(flags, "infer", &what);
  const double read_s = seconds_since(start);

  start = SteadyClock::now();
  std::shared_ptr<Module> net = make_model(spec);
  load_weights_into(*net, weights->tensors, weights->path);
  net->eval();
  net->to(device);
  const double load_s = seconds_since(start);

  start = SteadyClock::now();
  NoGradGuard no_grad;
  PrecisionScope precision(precision_from_flag(flags, device, /*say=*/true));
  const Tensor logits = net->forward(clips.to(device)).to(Device::cpu());
  const double forward_s = seconds_since(start);
  // Weight files hold finite values only, but they can still overflow on an input, and a GPU
  // does not check a flow layer's theta (ops/flow/flow.h): garbage is refused, not printed.
  const std::vector<float> values = logits.to_vector();
  const auto bad =
      std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
  RF_CHECK(bad == values.end(), "infer: the model's output is not finite (sample ",
           (bad - values.begin()) / classes, ", class ", (bad - values.begin()) % classes,
           "): the weights in ", weights->path,
           " overflow on this input, or a flow layer's theta is 0");

  std::printf("model %s, %lld classes, input %s (%s) on %s\n", spec.name.c_str(),
              static_cast<long long>(classes), shape_str(clips.shape()).c_str(), what.c_str(),
              device.str().c_str());
  const Tensor probabilities = ops::softmax(logits, 1);
  if (video) {
    // The video's prediction, as the trainer's video-level evaluation scores it.
    print_top(ops::mean(probabilities, {0}, /*keepdim=*/true), top, labels,
              [](int64_t) { return std::string("video"); });
  } else {
    print_top(probabilities, top, labels, [](int64_t i) { return "sample " + std::to_string(i); });
  }
  if (!logits_out.empty()) {
    write_file_atomic(logits_out, logits_json(logits));
    std::printf("wrote logits to %s\n", flags.str("logits-out").c_str());
  }
  std::printf("time: read %.3f s, load %.3f s, forward %.3f s\n", read_s, load_s, forward_s);
  return 0;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main([&] { return repflow::run(argc, argv); });
}
