// infer: a video (a video file, a directory of frames, or clips prepared elsewhere as a .npy
// array) through a model of the zoo with its weights; prints the top-k classes with softmax
// probabilities. A weight file's metadata (training/weights_meta.h) gives the model and clip
// defaults.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>

#include "framework/atomic_file.h"
#include "framework/autograd.h"
#include "framework/flags.h"
#include "framework/npy.h"
#include "framework/weights.h"
#include "models/model_flags.h"
#include "models/weights_io.h"
#include "ops/cat/cat.h"
#include "ops/loss/loss.h"
#include "ops/reduce/reduce.h"
#include "ops/view/view.h"
#include "training/data/frame_dataset.h"
#include "training/data/video_file.h"
#include "training/weights_meta.h"

namespace repflow {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One name per line; a final newline does not start another name.
std::vector<std::string> read_labels(const std::string& path, int64_t classes) {
  std::ifstream in(path);
  RF_CHECK(in, path, ": cannot open the labels file");
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    RF_CHECK(!line.empty(), path, ": line ", names.size() + 1, " is empty (one name per line)");
    names.push_back(line);
  }
  RF_CHECK(static_cast<int64_t>(names.size()) == classes, path, ": has ", names.size(),
           " labels but the model has ", classes, " classes (--classes)");
  return names;
}

// (clips, 3, T, H, W) from the video file or frame folder `video`, cut exactly as the trainer's
// evaluation cuts clip i of --clips (training/data/frame_dataset.h), and a line saying what was
// read.
Tensor video_clips(const Flags& flags, const std::string& video, std::string* what) {
  FrameDatasetOptions o;
  o.frames = flags.integer_in("frames", 1, 10000);
  o.stride = flags.integer_in("stride", 1, 10000);
  o.resize = static_cast<int>(flags.integer_in("resize", 0, 100000));
  o.crop = static_cast<int>(flags.integer_in("size", 0, 100000));
  o.norm = parse_normalisation(flags.str("norm"), "infer: flag --norm");
  o.decode_size = static_cast<int>(flags.integer_in("decode-size", 0, 100000));
  o.decoder_threads = decoder_threads_per_worker(1);
  const int clips = static_cast<int>(flags.integer_in("clips", 1, 1000));
  VideoList list;
  list.videos.push_back({video, 0, -1, {}});
  list.classes = {"?"};
  const FrameDataset data(std::move(list), o);
  std::vector<Tensor> out;
  for (int i = 0; i < clips; ++i)
    out.push_back(data.clip(0, ClipRequest::evaluation(i, clips)).frames);
  const VideoSource source = find_video("", data.list().videos[0]);
  const int64_t count = source.kind == VideoSource::Kind::kFile
                            ? VideoFile(source.path).info().frames
                            : static_cast<int64_t>(list_frames(source.path).size());
  *what = source.path + ": " + std::to_string(clips) + " clip(s) of " + std::to_string(o.frames) +
          " frames, stride " + std::to_string(o.stride) + ", of " + std::to_string(count) +
          (count < (o.frames - 1) * o.stride + 1 ? " frames (looped)" : " frames");
  return ops::stack(out, 0);
}

Tensor npy_clips(const std::string& path, std::string* what) {
  const Tensor clips = read_npy(path);
  RF_CHECK(clips.dim() == 5 && clips.size(1) == 3 && clips.numel() > 0, path, ": shape ",
           shape_str(clips.shape()), " is not (N, 3, T, H, W)");
  for (float v : clips.to_vector()) RF_CHECK(std::isfinite(v), path, ": holds NaN or infinity");
  *what = path + ": " + std::to_string(clips.size(0)) + " clip(s)";
  return clips;
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

// The weight file, read before the flags are declared: its metadata gives their defaults.
struct WeightsFile {
  std::string path;
  std::map<std::string, Tensor> tensors;
  WeightsMeta meta;
};

std::optional<WeightsFile> read_weights_file(int argc, char** argv) {
  const std::optional<std::string> weights = Flags::peek(argc, argv, "weights");
  if (!weights || weights->empty()) return std::nullopt;
  WeightsFile w;
  w.path = user_path(*weights);
  nlohmann::json extra;
  w.tensors = load_weights(w.path, &extra);
  w.meta = weights_meta_from_extra(extra, w.path);
  return w;
}

int run(int argc, char** argv) {
  const std::optional<WeightsFile> weights = read_weights_file(argc, argv);
  const WeightsMeta meta = weights ? weights->meta : WeightsMeta();
  // The model flags default to the weight file's model (or --model's own defaults), the clip
  // flags to how its clips were cut.
  std::string model = meta.model ? meta.model->name : "resnet18_2d";
  model = Flags::peek(argc, argv, "model").value_or(model);
  OptionValues model_options = model_defaults(model);
  if (meta.model && meta.model->name == model) model_options = meta.model->options;
  const ClipMeta& in = meta.input;
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
  add_model_flags(flags, model, model_options, /*with_classes=*/true);
  flags.add("weights", "", "JSON weight file (required)");
  flags.add("video", "",
            "video file or directory of frames (exactly one of --video and --input-npy)");
  flags.add("input-npy", "", "float32 .npy clips laid out N,C,T,H,W, fed without preprocessing");
  flags.add("labels", "",
            "class names, one per line, as many as --classes (default: the weight file's)");
  flags.add("top", "5", "classes to print per prediction (at most --classes are printed)");
  flags.add("logits-out", "", "write the raw logits as a JSON array of arrays, one per clip");
  flags.add("frames", std::to_string(in.frames.value_or(16)),
            "clip length T (kinetics_repflow_r50 needs T >= 11)");
  flags.add("stride", std::to_string(in.stride.value_or(1)), "frames between clip frames");
  flags.add("clips", std::to_string(in.clips.value_or(1)),
            "clips per video, as the trainer's --clips-per-video");
  flags.add("resize", std::to_string(in.resize.value_or(128)),
            "shorter side after resizing, 0 keeps the frames' size");
  flags.add("size", std::to_string(in.size.value_or(112)),
            "side of the centre crop, 0 keeps the whole frame");
  flags.add("decode-size", std::to_string(in.decode_size.value_or(0)),
            "video files: decode with the shorter side scaled to this, before --resize (0: "
            "full size)");
  flags.add("norm", normalisation_text(in.norm.value_or(imagenet_normalisation())),
            "imagenet (torchvision's mean/std), paper (1 - 2 * pixel / 255, the published "
            "code's, for its converted weights) or M,M,M/S,S,S");
  flags.add("device", "auto", "auto, cpu, cuda or cuda:N");
  add_threads_flag(flags, "CPU threads");
  if (!flags.parse(argc, argv)) return 0;
  apply_threads_flag(flags);
  const Device device = parse_device(flags.str("device"));
  RF_CHECK(weights, "infer: flag --weights is required");
  const bool video = !flags.str("video").empty(), npy = !flags.str("input-npy").empty();
  RF_CHECK(video != npy, "infer: give exactly one of --video and --input-npy");
  const ModelSpec spec = model_spec_from_flags(flags, /*with_classes=*/true);
  const int64_t classes = std::stoll(spec.options.at("classes"));
  const int64_t top = std::min(flags.integer_in("top", 1, 1000000), classes);
  std::vector<std::string> labels = meta.class_names;
  if (!flags.str("labels").empty()) {
    labels = read_labels(user_path(flags.str("labels")), classes);
  } else if (static_cast<int64_t>(labels.size()) != classes) {
    labels.clear();  // names recorded for another class count do not apply
  }

  auto start = Clock::now();
  std::string what;
  Tensor clips = video ? video_clips(flags, user_path(flags.str("video")), &what)
                       : npy_clips(user_path(flags.str("input-npy")), &what);
  const double read_s = seconds_since(start);

  start = Clock::now();
  std::shared_ptr<Module> net = make_model(spec);
  load_weights_into(*net, weights->tensors, weights->path);
  net->eval();
  net->to(device);
  const double load_s = seconds_since(start);

  start = Clock::now();
  NoGradGuard no_grad;
  const Tensor logits = net->forward(clips.to(device)).to(Device::cpu());
  const double forward_s = seconds_since(start);

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
  if (!flags.str("logits-out").empty()) {
    write_file_atomic(user_path(flags.str("logits-out")), logits_json(logits));
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
