// bench_loader: how many training clips a second the data loader decodes and augments from a
// folder of frames, for several worker counts. It writes its own dataset of textured frames
// (JPEG or PNG) first, so the figure covers decoding, resizing, cropping, flipping and
// batching, without a model.
#include <stb_image_write.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "framework/flags.h"
#include "framework/philox.h"
#include "tools/bench_timing.h"
#include "training/data/frame_dataset.h"
#include "training/data/loader.h"

namespace repflow {
namespace {

std::vector<int> parse_counts(const std::string& text) {
  std::vector<int> counts;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    try {
      counts.push_back(std::stoi(item));
    } catch (const std::exception&) {
      RF_FAIL("bench_loader: flag --workers: '", text, "' is not a comma-separated list");
    }
  }
  return counts;
}

// Frames with smooth colour gradients and noise, so JPEG files have a realistic size.
void write_frames(const std::string& dir, int count, int width, int height, bool jpeg,
                  uint64_t seed) {
  std::filesystem::create_directories(dir);
  std::vector<uint8_t> pixels(static_cast<size_t>(width) * height * 3);
  for (int t = 0; t < count; ++t) {
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        const size_t i = (static_cast<size_t>(y) * width + x) * 3;
        const uint32_t noise = philox4x32(seed, t, i).v[0];
        pixels[i] = static_cast<uint8_t>((x + 3 * t) * 255 / width ^ (noise & 31));
        pixels[i + 1] = static_cast<uint8_t>(y * 255 / height ^ ((noise >> 8) & 31));
        pixels[i + 2] = static_cast<uint8_t>(((x + y) * 2 + t) ^ ((noise >> 16) & 31));
      }
    }
    char name[32];
    std::snprintf(name, sizeof(name), "img_%05d.%s", t + 1, jpeg ? "jpg" : "png");
    const std::string path = dir + "/" + name;
    const int ok = jpeg ? stbi_write_jpg(path.c_str(), width, height, 3, pixels.data(), 90)
                        : stbi_write_png(path.c_str(), width, height, 3, pixels.data(), width * 3);
    RF_CHECK(ok, path, ": cannot write frame");
  }
}

int bench(int argc, char** argv) {
  Flags flags("bench_loader",
              "Times the data loader on a frame-folder dataset it writes itself: training clips "
              "per second for each worker count.");
  flags.add("dir", "/tmp", "where the dataset's folder is written (and removed afterwards)");
  flags.add("videos", "16", "videos in the dataset");
  flags.add("video-frames", "48", "frames per video");
  flags.add("width", "320", "frame width (HMDB's frames are 320x240)");
  flags.add("height", "240", "frame height");
  flags.add("format", "jpg", "jpg or png frames");
  flags.add("frames", "16", "frames per clip");
  flags.add("stride", "1", "frame stride");
  flags.add("resize", "128", "shorter side after resizing");
  flags.add("crop", "112", "crop side");
  flags.add("batch", "8", "clips per batch");
  flags.add("batches", "8", "timed batches per worker count");
  flags.add("workers", "1,2", "comma-separated worker counts to time");
  if (!flags.parse(argc, argv)) return 0;
  const std::string format = flags.str("format");
  RF_CHECK(format == "jpg" || format == "png", "bench_loader: flag --format: '", format,
           "' is not jpg or png");
  const std::string root =
      user_path(flags.str("dir")) + "/repflow_bench_loader." + std::to_string(::getpid());
  const int videos = static_cast<int>(flags.integer("videos"));
  const int video_frames = static_cast<int>(flags.integer("video-frames"));
  const int width = static_cast<int>(flags.integer("width"));
  const int height = static_cast<int>(flags.integer("height"));
  RF_CHECK(videos >= 1 && video_frames >= 1 && width >= 1 && height >= 1,
           "bench_loader: --videos, --video-frames, --width and --height must be positive");
  const int64_t batches = flags.integer("batches");
  RF_CHECK(batches >= 1, "bench_loader: flag --batches must be at least 1");

  std::string list;
  for (int v = 0; v < videos; ++v) {
    const std::string name = "video" + std::to_string(v);
    write_frames(root + "/" + name, video_frames, width, height, format == "jpg", v);
    list += name + " " + std::to_string(video_frames) + " " + std::to_string(v % 2) + "\n";
  }
  {
    std::FILE* f = std::fopen((root + "/list.txt").c_str(), "w");
    RF_CHECK(f && std::fputs(list.c_str(), f) >= 0 && std::fclose(f) == 0, root,
             "/list.txt: cannot write");
  }
  FrameDatasetOptions data_options;
  data_options.root = root;
  data_options.frames = flags.integer("frames");
  data_options.stride = flags.integer("stride");
  data_options.resize = static_cast<int>(flags.integer("resize"));
  data_options.crop = static_cast<int>(flags.integer("crop"));
  const FrameDataset data(read_video_list(root + "/list.txt", ListFormat::kPlain), data_options);

  std::printf("%-8s %12s %12s %14s\n", "workers", "clips/s", "ms/batch", "CPU ms/clip");
  for (const int workers : parse_counts(flags.str("workers"))) {
    LoaderOptions options;
    options.batch_size = flags.integer("batch");
    options.workers = workers;
    DataLoader loader(data, options);
    Batch batch;
    int64_t clips = 0, epoch = 0;
    loader.start_epoch(epoch);
    const auto start = BenchClock::now();
    const std::clock_t cpu_start = std::clock();
    for (int64_t b = 0; b < batches; ++b) {
      while (!loader.next(&batch)) loader.start_epoch(++epoch);
      clips += batch.clips.size(0);
    }
    const double ms = ms_since(start);
    // Process CPU time per clip: what decoding costs, whatever else the machine is running.
    const double cpu_ms_per_clip =
        1000.0 * static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC / clips;
    const nlohmann::ordered_json result = {
        {"bench", "loader"},
        {"impl", "repflow"},
        {"device", "cpu"},
        {"threads", workers},
        {"config",
         {{"format", format},
          {"frame_size", std::to_string(width) + "x" + std::to_string(height)},
          {"frames", data_options.frames},
          {"resize", data_options.resize},
          {"crop", data_options.crop},
          {"batch", options.batch_size}}},
        {"clips_per_s", 1000.0 * clips / ms},
        {"batch_ms", ms / batches},
        {"cpu_ms_per_clip", cpu_ms_per_clip}};
    std::printf("BENCH %s\n", result.dump().c_str());
    std::printf("%-8d %12.1f %12.1f %14.1f\n", workers, 1000.0 * clips / ms, ms / batches,
                cpu_ms_per_clip);
    std::fflush(stdout);
  }
  std::filesystem::remove_all(root);
  return 0;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main([&] { return repflow::bench(argc, argv); });
}
