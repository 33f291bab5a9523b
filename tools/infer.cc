// infer: one clip (a directory of frames, or clips prepared elsewhere as a .npy array) through a
// model of the zoo with its weights; prints the top-k classes with softmax probabilities.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "framework/autograd.h"
#include "framework/flags.h"
#include "framework/npy.h"
#include "framework/weights.h"
#include "models/model_flags.h"
#include "models/weights_io.h"
#include "ops/loss.h"
#include "ops/view.h"
#include "training/video_frames.h"

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

// (1, 3, T, H, W) from the frames of `dir`, and a line saying which frames were used.
Tensor video_clip(const Flags& flags, const std::string& dir, std::string* what) {
  const std::vector<std::string> frames = list_frames(dir);
  const int64_t length = flags.integer_in("frames", 1, 10000);
  std::vector<std::string> chosen;
  for (int64_t i : evenly_spaced_frames(static_cast<int64_t>(frames.size()), length))
    chosen.push_back(frames[i]);
  FrameTransform transform;
  transform.resize = static_cast<int>(flags.integer_in("resize", 0, 100000));
  transform.crop = static_cast<int>(flags.integer_in("crop", 0, 100000));
  transform.norm = parse_normalisation(flags.str("norm"), "infer: flag --norm");
  const Tensor clip = read_frames(chosen, transform);
  *what = dir + ": " + std::to_string(length) + " of " + std::to_string(frames.size()) + " frames" +
          (static_cast<int64_t>(frames.size()) < length ? " (looped)" : "");
  return ops::unsqueeze(clip, 0);
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

void print_top(const Tensor& probabilities, int64_t top, const std::vector<std::string>& labels) {
  const std::vector<float> p = probabilities.to_vector();
  const int64_t n = probabilities.size(0), classes = probabilities.size(1);
  for (int64_t s = 0; s < n; ++s) {
    const float* row = p.data() + s * classes;
    std::vector<int64_t> order(classes);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return row[a] > row[b]; });
    std::printf("sample %lld: top %lld\n", static_cast<long long>(s), static_cast<long long>(top));
    for (int64_t k = 0; k < top; ++k) {
      const int64_t c = order[k];
      const std::string name = labels.empty() ? "" : "  " + labels[c];
      std::printf("  %2lld. %.6f  class %lld%s\n", static_cast<long long>(k + 1), row[c],
                  static_cast<long long>(c), name.c_str());
    }
  }
}

int run(int argc, char** argv) {
  Flags flags("infer",
              "Classifies a clip with a model of the zoo and its weights:\n"
              "  infer --model NAME --weights W.json (--video DIR | --input-npy F.npy)\n"
              "A video is a directory of .jpg/.jpeg/.png/.bmp frames in natural order; --frames "
              "of them are taken evenly\nspaced (the middle frame of each of T equal spans); a "
              "video with fewer frames loops from its first\nframe again, as the published "
              "code's reader does. Frames are resized (shorter side), centre-cropped and\n"
              "normalised. A .npy array (float32, N,C,T,H,W) is fed as is.");
  add_model_flags(flags, "resnet18_2d", /*with_classes=*/true,
                  {{"classes", "400"}, {"flow", "after3"}, {"flow-iters", "10"}});
  flags.add("weights", "", "JSON weight file (required)");
  flags.add("video", "", "directory of frames (exactly one of --video and --input-npy)");
  flags.add("input-npy", "", "float32 .npy clips laid out N,C,T,H,W, fed without preprocessing");
  flags.add("labels", "", "class names, one per line, as many as --classes");
  flags.add("top", "5", "classes to print per sample (at most --classes are printed)");
  flags.add("logits-out", "", "write the raw logits as a JSON array of arrays, one per sample");
  flags.add("frames", "16", "clip length T (kinetics_repflow_r50 needs T >= 11)");
  flags.add("resize", "128", "shorter side after resizing, 0 keeps the frames' size");
  flags.add("crop", "112", "side of the centre crop, 0 keeps the whole frame");
  flags.add("norm", "imagenet",
            "imagenet (torchvision's mean/std) or paper (1 - 2 * pixel / 255, the published "
            "code's, for its converted weights)");
  flags.add("device", "auto", "auto, cpu, cuda or cuda:N");
  add_threads_flag(flags, "CPU threads");
  if (!flags.parse(argc, argv)) return 0;
  apply_threads_flag(flags);
  const Device device = parse_device(flags.str("device"));
  RF_CHECK(!flags.str("weights").empty(), "infer: flag --weights is required");
  const bool video = !flags.str("video").empty(), npy = !flags.str("input-npy").empty();
  RF_CHECK(video != npy, "infer: give exactly one of --video and --input-npy");
  const ModelOptions options = model_options_from_flags(flags, {}, /*with_classes=*/true);
  const int64_t top = std::min(flags.integer_in("top", 1, 1000000), options.classes);
  const std::vector<std::string> labels =
      flags.str("labels").empty() ? std::vector<std::string>()
                                  : read_labels(user_path(flags.str("labels")), options.classes);

  auto start = Clock::now();
  std::string what;
  Tensor clips = video ? video_clip(flags, user_path(flags.str("video")), &what)
                       : npy_clips(user_path(flags.str("input-npy")), &what);
  const double read_s = seconds_since(start);

  start = Clock::now();
  std::shared_ptr<Module> model = make_model(flags.str("model"), options);
  load_weights_into(*model, user_path(flags.str("weights")));
  model->eval();
  model->to(device);
  const double load_s = seconds_since(start);

  start = Clock::now();
  NoGradGuard no_grad;
  const Tensor logits = model->forward(clips.to(device)).to(Device::cpu());
  const double forward_s = seconds_since(start);

  std::printf("model %s, %lld classes, input %s (%s) on %s\n", flags.str("model").c_str(),
              static_cast<long long>(options.classes), shape_str(clips.shape()).c_str(),
              what.c_str(), device.str().c_str());
  print_top(ops::softmax(logits, 1), top, labels);
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
