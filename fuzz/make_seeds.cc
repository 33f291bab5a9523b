// make_seeds OUT...: writes each seed file named, its content chosen by its base name: valid
// files as the project writes them (weights, checkpoints, images, videos, lists, metrics,
// command lines), so that each harness starts from inputs that reach deep into its parser. Made
// at build time, they follow every change of a format.
#include <stb_image_write.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "framework/atomic_file.h"
#include "framework/error.h"
#include "framework/flags.h"
#include "framework/image_io.h"
#include "framework/json_tensor.h"
#include "framework/read_file.h"
#include "framework/weights.h"
#include "models/registry.h"
#include "tools/video_writer.h"
#include "training/checkpoint.h"
#include "training/report/metrics_log.h"
#include "training/weights_meta.h"

namespace repflow {
namespace {

Tensor ramp(const Shape& shape) {
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = 0.25f * static_cast<float>(i) - 1.0f;
  return t;
}

NamedTensors small_state() { return {{"conv.weight", ramp({2, 1, 3})}, {"fc.bias", ramp({2})}}; }

Image picture(int width, int height, int channels) {
  Image image{width, height, channels, {}};
  for (int i = 0; i < width * height * channels; ++i)
    image.pixels.push_back(static_cast<uint8_t>(i * 37 % 251));
  return image;
}

std::string encoded(const Image& image, bool jpeg) {
  std::string out;
  const auto append = [](void* s, void* data, int size) {
    static_cast<std::string*>(s)->append(static_cast<const char*>(data), size);
  };
  const int ok = jpeg ? stbi_write_jpg_to_func(append, &out, image.width, image.height,
                                               image.channels, image.pixels.data(), 90)
                      : stbi_write_bmp_to_func(append, &out, image.width, image.height,
                                               image.channels, image.pixels.data());
  RF_CHECK(ok, "make_seeds: cannot encode an image");
  return out;
}

// A .npy file of float32 in C order (format version `version`).
std::string npy(const Shape& shape, int version) {
  std::string dims;
  for (int64_t d : shape) dims += std::to_string(d) + ", ";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  const size_t prefix = version == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(version);
  out += '\0';
  const size_t length = header.size();
  for (size_t k = 0; k < prefix - 8; ++k) out += static_cast<char>(length >> (8 * k) & 0xff);
  out += header;
  const Tensor t = ramp(shape);
  out.append(reinterpret_cast<const char*>(t.data()), sizeof(float) * t.numel());
  return out;
}

std::string video(VideoCodec codec, const std::string& extension) {
  VideoSpec spec;
  spec.codec = codec;
  spec.width = 32;
  spec.height = 24;
  spec.frames = 6;
  spec.gop = 4;
  spec.b_frames = codec == VideoCodec::kH264 ? 2 : 0;
  const std::string path =
      (std::filesystem::temp_directory_path() / ("make_seeds_video" + extension)).string();
  write_video(path, spec);
  std::string bytes = read_file(path);
  std::filesystem::remove(path);
  return bytes;
}

std::string args(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? std::string(1, '\0') : "") + parts[i];
  return out;
}

// The content of each seed, by base name.
const std::map<std::string, std::function<std::string(const std::string& path)>>& seeds() {
  static const std::map<std::string, std::function<std::string(const std::string&)>> table = {
      {"weights_plain.json",
       [](const std::string& path) {
         save_weights(path, small_state(), TensorEncoding::kPlain);
         return read_file(path);
       }},
      {"weights_base64.json",
       [](const std::string& path) {
         save_weights(path, small_state(), TensorEncoding::kBase64);
         return read_file(path);
       }},
      {"weights_meta.json",
       [](const std::string& path) {
         WeightsMeta meta;
         meta.model = resolve_model("resnet10_2d_tiny", {{"classes", "2"}});
         meta.class_names = {"left", "right"};
         meta.input.frames = 8;
         meta.input.size = 32;
         save_weights(path, small_state(), {{"meta", weights_meta_to_json(meta)}});
         return read_file(path);
       }},
      {"checkpoint.json",
       [](const std::string& path) {
         Checkpoint c;
         c.model = small_state();
         c.optimizer = {{"momentum/conv.weight", ramp({2, 1, 3})}};
         c.average = small_state();
         c.trainer = {{"epoch", 1},
                      {"step", 0},
                      {"global_step", 12},
                      {"config", {{"flags", {{"model", "resnet10_2d_tiny"}}}}}};
         save_checkpoint(path, c);
         return read_file(path);
       }},
      {"tensor_plain.json",
       [](const std::string&) {
         return tensor_to_json(ramp({2, 3}), "t").dump();
       }},
      {"tensor_base64.json",
       [](const std::string&) {
         return tensor_to_json(ramp({4}), "t", TensorEncoding::kBase64).dump();
       }},
      {"tensor_empty.json",
       [](const std::string&) {
         return tensor_to_json(ramp({0, 3}), "t").dump();
       }},
      {"annotations.json",
       [](const std::string&) {
         return std::string(
             R"({"abc": {"annotations": {"label": "riding a bike", "segment": [1.0, 11.0]},)"
             R"( "subset": "train", "duration": 10.0}})");
       }},
      {"clip_v1.npy",
       [](const std::string&) {
         return npy({2, 3, 4}, 1);
       }},
      {"clip_v2.npy",
       [](const std::string&) {
         return npy({1, 3, 2, 4, 4}, 2);
       }},
      {"rgb.jpg", [](const std::string&) { return "\x03" + encoded(picture(16, 8, 3), true); }},
      {"grey.jpg", [](const std::string&) { return "\x01" + encoded(picture(9, 7, 1), true); }},
      {"rgb.bmp", [](const std::string&) { return "\x03" + encoded(picture(5, 3, 3), false); }},
      {"rgba.png",
       [](const std::string& path) {
         write_png(path, picture(6, 4, 4));
         return "\x03" + read_file(path);
       }},
      {"grey.png",
       [](const std::string& path) {
         write_png(path, picture(7, 5, 1));
         return std::string(1, '\0') + read_file(path);
       }},
      {"h264.mp4",
       [](const std::string&) { return std::string(1, '\0') + video(VideoCodec::kH264, ".mp4"); }},
      {"h264.mkv", [](const std::string&) { return "\x01" + video(VideoCodec::kH264, ".mkv"); }},
      {"mpeg4.avi",
       [](const std::string&) { return std::string(1, '\0') + video(VideoCodec::kMpeg4, ".avi"); }},
      {"mjpeg.avi", [](const std::string&) { return "\x01" + video(VideoCodec::kMjpeg, ".avi"); }},
      {"vp8.webm",
       [](const std::string&) { return std::string(1, '\0') + video(VideoCodec::kVp8, ".webm"); }},
      // List seeds: the mode byte of fuzz/list_fuzz.cc, then the files, NUL-separated.
      {"hmdb.list",
       [](const std::string&) {
         return std::string(1, '\0') +
                "brush_hair_f_nm_np1_ba_goo_0.avi brush_hair\n"
                "cartwheel_f_cm_np1_le_med_1.avi cartwheel\n";
       }},
      {"hmdb_dir.list",
       [](const std::string&) {
         return args(
             {"\x01" + std::string("a_f_nm_np1_ba_goo_0.avi 1 \nb_f_nm_np1_ba_goo_1.avi 2 \n"),
              "c_f_cm_np1_le_med_1.avi 1 \n", "d.avi 0 \n"});
       }},
      {"ucf.list",
       [](const std::string&) {
         return args({"\x02" + std::string("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n"),
                      "1 ApplyEyeMakeup\n2 ApplyLipstick\n"});
       }},
      {"ucf_dir.list",
       [](const std::string&) {
         return args({"\x03" + std::string("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n"),
                      "ApplyLipstick/v_ApplyLipstick_g01_c01.avi\n",
                      "1 ApplyEyeMakeup\n2 ApplyLipstick\n"});
       }},
      {"kinetics.list",
       [](const std::string&) {
         return std::string("\x04") +
                R"({"rgb_abc_000001_000011.mp4": 0, "rgb_def_000002_000012.mp4": 3})";
       }},
      {"kinetics_official.list",
       [](const std::string&) {
         return std::string("\x0c") +
                R"({"abc": {"annotations": {"label": "riding a bike", "segment": [1.0, 11.0]}, "subset": "validate"}})";
       }},
      {"kinetics_csv.list",
       [](const std::string&) {
         return std::string("\x05") +
                "label,youtube_id,time_start,time_end,split\n\"riding a bike\",abc,1,11,train\n";
       }},
      {"plain.list",
       [](const std::string&) { return std::string("\x06") + "videos/a b 30 0\nclips/c.mp4 1\n"; }},
      {"names.txt", [](const std::string&) { return std::string(1, '\0') + "left\nright\n"; }},
      {"classind.txt",
       [](const std::string&) { return std::string(1, '\0') + "1 ApplyEyeMakeup\n2 Archery\n"; }},
      {"class_map.json",
       [](const std::string&) {
         return std::string("\x01") + R"({"\"abseiling\"": 0, "\"air drumming\"": 1})";
       }},
      {"metrics.jsonl",
       [](const std::string& path) {
         MetricsLog log(path);
         log.append({{"epoch", 1}, {"train_loss", 1.5}, {"val_top1", 0.5}, {"seconds", 2.5}});
         log.append({{"epoch", 2}, {"train_loss", 1.2}, {"val_top1", 0.75}, {"lr", 0.1}});
         return read_file(path);
       }},
      {"default.args",
       [](const std::string&) {
         return args({"--epochs", "2", "--classes", "7"});
       }},
      {"kinetics.args",
       [](const std::string&) {
         return args({"--model=kinetics_repflow_r50", "--flow-iters", "10", "--dropout", "0.5"});
       }},
      {"schedule.args",
       [](const std::string&) {
         return args({"--lr", "0.1", "--lr-schedule", "cosine", "--warmup-epochs", "1",
                      "--param-groups", "flow:0.01:0,fc:2"});
       }},
  };
  return table;
}

int run(int argc, char** argv) {
  RF_CHECK(argc > 1, "usage: make_seeds OUT...");
  for (int i = 1; i < argc; ++i) {
    const std::string path = argv[i];
    const std::string name = std::filesystem::path(path).filename().string();
    const auto it = seeds().find(name);
    RF_CHECK(it != seeds().end(), "make_seeds: no seed is called ", name);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    const std::string bytes = it->second(path);
    write_file_atomic(path, bytes);
  }
  return 0;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main([&] { return repflow::run(argc, argv); });
}
