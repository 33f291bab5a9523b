#include "tools/clip_input.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "framework/npy.h"
#include "framework/weights.h"
#include "models/model_flags.h"
#include "ops/cat/cat.h"
#include "training/data/frame_dataset.h"
#include "training/data/video_file.h"

namespace repflow {
namespace {

// The most input a video may give: 4 GB of clips.
constexpr double kMaxInputBytes = 4.0 * (1 << 30);

// (clips, 3, T, H, W) from the video file or frame folder `video`, cut exactly as the trainer's
// evaluation cuts clip i of --clips (training/data/frame_dataset.h), and a line saying what was
// read.
Tensor video_clips(const Flags& flags, const std::string& tool, const std::string& video,
                   std::string* what) {
  FrameDatasetOptions o;
  o.frames = flags.integer_in("frames", 1, kMaxClipFrames);
  o.stride = flags.integer_in("stride", 1, kMaxClipFrames);
  o.resize = static_cast<int>(flags.integer_in("resize", 0, kMaxFrameSide));
  o.crop = static_cast<int>(flags.integer_in("size", 0, kMaxFrameSide));
  o.norm = parse_normalisation(flags.str("norm"), tool + ": flag --norm");
  o.decode_size = static_cast<int>(flags.integer_in("decode-size", 0, kMaxFrameSide));
  o.decoder_threads = decoder_threads_per_worker(1);
  const int clips = static_cast<int>(flags.integer_in("clips", 1, kMaxClipsPerVideo));
  VideoList list;
  list.videos.push_back({video, 0, -1, {}});
  list.classes = {"?"};
  const FrameDataset data(std::move(list), o);
  std::vector<Tensor> out;
  for (int i = 0; i < clips; ++i) {
    out.push_back(data.clip(0, ClipRequest::evaluation(i, clips)).frames);
    // Known once the first clip is cut: the flags' bounds each allow far more than a machine
    // holds together, and the clips are all read before the model runs.
    const double bytes = 4.0 * clips * static_cast<double>(out[0].numel());
    RF_CHECK(bytes <= kMaxInputBytes, tool, ": --clips ", clips, " clips of ",
             shape_str(out[0].shape()), " floats are ", bytes / (1 << 20), " MB, above ",
             kMaxInputBytes / (1 << 20),
             " MB: give fewer --clips or --frames, or a smaller --size");
  }
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

}  // namespace

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

void add_model_and_clip_flags(Flags& flags, int argc, char** argv,
                              const std::optional<WeightsFile>& weights) {
  const WeightsMeta meta = weights ? weights->meta : WeightsMeta();
  std::string model = meta.model ? meta.model->name : "resnet18_2d";
  model = Flags::peek(argc, argv, "model").value_or(model);
  OptionValues model_options = model_defaults(model);
  if (meta.model && meta.model->name == model) model_options = meta.model->options;
  add_model_flags(flags, model, model_options, /*with_classes=*/true);
  const ClipMeta& in = meta.input;
  const FrameDatasetOptions data;  // the trainer's defaults, for weights that do not say
  flags.add("weights", "", "JSON weight file (required)");
  flags.add("video", "",
            "video file or directory of frames (exactly one of --video and --input-npy)");
  flags.add("input-npy", "", "float32 .npy clips laid out N,C,T,H,W, fed without preprocessing");
  flags.add("frames", std::to_string(in.frames.value_or(data.frames)),
            "clip length T (kinetics_repflow_r50 needs T >= 11)");
  flags.add("stride", std::to_string(in.stride.value_or(data.stride)),
            "frames between clip frames");
  flags.add("clips", std::to_string(in.clips.value_or(1)),
            "clips per video, as the trainer's --clips-per-video");
  flags.add("resize", std::to_string(in.resize.value_or(data.resize)),
            "shorter side after resizing, 0 keeps the frames' size");
  flags.add("size", std::to_string(in.size.value_or(data.crop)),
            "side of the centre crop, 0 keeps the whole frame");
  flags.add("decode-size", std::to_string(in.decode_size.value_or(data.decode_size)),
            "video files: decode with the shorter side scaled to this, before --resize (0: "
            "full size)");
  flags.add("norm", normalisation_text(in.norm.value_or(data.norm)),
            "imagenet (torchvision's mean/std), paper (1 - 2 * pixel / 255, the published "
            "code's, for its converted weights) or M,M,M/S,S,S");
}

std::vector<std::string> clip_input_paths(const Flags& flags, const WeightsFile& weights) {
  return {weights.path, user_path(flags.str("video")), user_path(flags.str("input-npy"))};
}

Tensor read_clips(const Flags& flags, const std::string& tool, std::string* what) {
  const bool video = !flags.str("video").empty(), npy = !flags.str("input-npy").empty();
  RF_CHECK(video != npy, tool, ": give exactly one of --video and --input-npy");
  // The flags that make clips of a video (video_clips) would be ignored, unchecked.
  if (npy)
    flags.refuse_given({"frames", "stride", "clips", "resize", "size", "decode-size", "norm"},
                       "makes clips of a --video; --input-npy clips are fed as they are", tool);
  return video ? video_clips(flags, tool, user_path(flags.str("video")), what)
               : npy_clips(user_path(flags.str("input-npy")), what);
}

}  // namespace repflow
