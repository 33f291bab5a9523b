// bench_loader: how many training clips a second the data loader decodes and augments, for
// several worker counts, from a folder of frames and from H.264 .mp4 files (HMDB-like 320x240
// and Kinetics-like 640x360 by default). It writes its own data first (JPEG or PNG frames; videos
// encoded with libavcodec), so the figures cover decoding, resizing, cropping, flipping and
// batching, without a model. On the same video files, in the same run, a Python subprocess
// (tools/bench_loader_video.py) times OpenCV's VideoCapture and torchvision.io.read_video
// cutting the same clips.
#include <stb_image_write.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "framework/flags.h"
#include "framework/philox.h"
#include "framework/text.h"
#include "tools/bench_timing.h"
#include "tools/scratch_dir.h"
#include "tools/torch_runner.h"
#include "tools/video_writer.h"
#include "training/data/frame_dataset.h"
#include "training/data/loader.h"
#include "training/data/video_file.h"

namespace repflow {
namespace {

std::vector<int> parse_counts(const std::string& text) {
  const std::vector<std::string> items = split(text, ',');
  RF_CHECK(!items.empty(), "bench_loader: flag --workers is empty");
  std::vector<int> counts;
  for (const std::string& item : items) {
    // The whole item, digits only: std::stoi would take "5x" as 5 and "1e30" as 1.
    const bool digits = !item.empty() && item.size() <= 9 &&
                        item.find_first_not_of("0123456789") == std::string::npos;
    RF_CHECK(digits && std::stoi(item) >= 1 && std::stoi(item) <= kMaxLoaderWorkers,
             "bench_loader: flag --workers: '", item, "' in '", text,
             "' is not a count between 1 and ", kMaxLoaderWorkers);
    counts.push_back(std::stoi(item));
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

void write_list(const std::string& path, const std::string& list) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  RF_CHECK(f && std::fputs(list.c_str(), f) >= 0 && std::fclose(f) == 0, path, ": cannot write");
}

struct Timing {
  double clips_per_s, batch_ms, cpu_ms_per_clip;
};

// `batches` training batches from a fresh loader with `workers` threads.
Timing time_loader(const Dataset& data, int64_t batch_size, int64_t batches, int workers) {
  LoaderOptions options;
  options.batch_size = batch_size;
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
  // Process CPU time per clip (every thread: workers, FFmpeg's, the collator): what decoding
  // costs, whatever else the machine is running.
  const double cpu_ms =
      1000.0 * static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC / clips;
  return {1000.0 * clips / ms, ms / batches, cpu_ms};
}

nlohmann::ordered_json record(const std::string& impl, int workers,
                              const nlohmann::ordered_json& config, const Timing& t) {
  return {{"bench", "loader"},      {"impl", impl},
          {"device", "cpu"},        {"threads", workers},
          {"config", config},       {"clips_per_s", t.clips_per_s},
          {"batch_ms", t.batch_ms}, {"cpu_ms_per_clip", t.cpu_ms_per_clip}};
}

struct Common {
  FrameDatasetOptions data;
  int64_t batch = 8, batches = 8;
  std::vector<int> workers;
  std::string compare_side;  // with --compare: the Python side's script (python_side)
};

void bench_frames(const Flags& flags, const std::string& root, const Common& c) {
  const std::string format = flags.str("format");
  RF_CHECK(format == "jpg" || format == "png", "bench_loader: flag --format: '", format,
           "' is not jpg or png");
  const int videos = static_cast<int>(flags.integer_in("videos", 1, 10000));
  const int video_frames = static_cast<int>(flags.integer_in("video-frames", 1, 100000));
  const int width = static_cast<int>(flags.integer_in("width", 2, kMaxFrameSide));
  const int height = static_cast<int>(flags.integer_in("height", 2, kMaxFrameSide));
  std::string list;
  for (int v = 0; v < videos; ++v) {
    const std::string name = "video" + std::to_string(v);
    write_frames(root + "/" + name, video_frames, width, height, format == "jpg", v);
    list += name + " " + std::to_string(video_frames) + " " + std::to_string(v % 2) + "\n";
  }
  write_list(root + "/list.txt", list);
  FrameDatasetOptions o = c.data;
  o.root = root;
  const FrameDataset data(read_video_list(root + "/list.txt", ListFormat::kPlain), o);
  const nlohmann::ordered_json config = {
      {"source", "frames"},
      {"format", format},
      {"frame_size", std::to_string(width) + "x" + std::to_string(height)},
      {"frames", o.frames},
      {"resize", o.resize},
      {"crop", o.crop},
      {"batch", c.batch}};
  std::printf("frame folders: %d videos of %d %s frames of %dx%d\n", videos, video_frames,
              format.c_str(), width, height);
  std::printf("%-8s %12s %12s %14s\n", "workers", "clips/s", "ms/batch", "CPU ms/clip");
  for (const int workers : c.workers) {
    const Timing t = time_loader(data, c.batch, c.batches, workers);
    std::printf("BENCH %s\n", record("repflow", workers, config, t).dump().c_str());
    std::printf("%-8d %12.1f %12.1f %14.1f\n", workers, t.clips_per_s, t.batch_ms,
                t.cpu_ms_per_clip);
    std::fflush(stdout);
  }
}

// One size of H.264 .mp4 files: repflow's loader, then OpenCV and torchvision on the same files.
void bench_video(const Flags& flags, const std::string& root, const Common& c,
                 const std::string& size) {
  VideoSpec spec;
  char extra = 0;
  RF_CHECK(std::sscanf(size.c_str(), "%dx%d%c", &spec.width, &spec.height, &extra) == 2,
           "bench_loader: flag --video-sizes: '", size, "' is not WIDTHxHEIGHT");
  RF_CHECK(spec.width >= 16 && spec.height >= 16 && spec.width <= kMaxFrameSide &&
               spec.height <= kMaxFrameSide && spec.width % 2 == 0 && spec.height % 2 == 0,
           "bench_loader: flag --video-sizes: ", size, " is not an even size from 16x16 to ",
           kMaxFrameSide, "x", kMaxFrameSide);
  // x264's default GOP (a keyframe every 250 frames) and B-frames, on footage with a camera's
  // grain at a rate factor that gives bit rates like HMDB's and YouTube's files (printed below).
  spec.frames = static_cast<int>(flags.integer_in("video-length", 2, 100000));
  spec.fps = 30;
  spec.gop = 250;
  spec.b_frames = 3;
  spec.crf = 20;
  spec.noise = 12;
  const int videos = static_cast<int>(flags.integer_in("videos", 1, 10000));
  std::filesystem::create_directories(root);
  std::string list;
  std::vector<std::string> files;
  int64_t bytes = 0;
  for (int v = 0; v < videos; ++v) {
    const std::string name = "video" + std::to_string(v) + ".mp4";
    spec.seed = v;
    spec.dx = v % 2 ? 2 : -2;
    write_video(root + "/" + name, spec);
    files.push_back(root + "/" + name);
    bytes += static_cast<int64_t>(std::filesystem::file_size(files.back()));
    list += name + " " + std::to_string(v % 2) + "\n";  // frame counts read from the files
  }
  write_list(root + "/list.txt", list);
  const double kbits = 8.0 * bytes / videos / (static_cast<double>(spec.frames) / spec.fps) / 1000;
  FrameDatasetOptions o = c.data;
  o.root = root;
  o.decode_size = static_cast<int>(flags.integer_in("decode-size", 0, kMaxFrameSide));
  const nlohmann::ordered_json config = {{"source", "video"},
                                         {"codec", "h264"},
                                         {"frame_size", size},
                                         {"video_frames", spec.frames},
                                         {"kbit_per_s", static_cast<int>(kbits)},
                                         {"frames", o.frames},
                                         {"stride", o.stride},
                                         {"resize", o.resize},
                                         {"crop", o.crop},
                                         {"decode_size", o.decode_size},
                                         {"batch", c.batch}};
  std::printf(
      "\nvideo files: %d H.264 .mp4 of %s, %d frames at %d fps, %.0f kbit/s; clips of %lld "
      "frames, stride %lld, resize %d, crop %d, decode size %d\n",
      videos, size.c_str(), spec.frames, spec.fps, kbits, static_cast<long long>(o.frames),
      static_cast<long long>(o.stride), o.resize, o.crop, o.decode_size);
  std::vector<nlohmann::json> records;
  for (const int workers : c.workers) {
    o.decoder_threads = decoder_threads_per_worker(workers);
    const FrameDataset data(read_video_list(root + "/list.txt", ListFormat::kPlain), o);
    const Timing t = time_loader(data, c.batch, c.batches, workers);
    records.push_back(record("repflow", workers, config, t));
    std::printf("BENCH %s\n", records.back().dump().c_str());
    std::fflush(stdout);
  }
  if (!c.compare_side.empty()) {
    if (o.decode_size > 0)
      std::printf("(OpenCV and torchvision decode at full size: --decode-size is repflow's)\n");
    const nlohmann::json python_config = {{"files", files},
                                          {"video_frames", spec.frames},
                                          {"fps", spec.fps},
                                          {"frames", o.frames},
                                          {"stride", o.stride},
                                          {"resize", o.resize},
                                          {"crop", o.crop},
                                          {"clips", c.batch * c.batches},
                                          {"workers", c.workers},
                                          {"seed", 0},
                                          {"readers", {"opencv", "torchvision"}},
                                          {"record", config}};
    for (const nlohmann::json& r :
         run_python_benchmark(flags.str("python"), c.compare_side, python_config))
      records.push_back(r);
  }
  std::printf("%-12s %8s %10s %12s %16s\n", "reader", "workers", "clips/s", "CPU ms/clip",
              "clips per CPU-s");
  std::map<std::string, double> best;  // clips per CPU-second, per reader
  for (const nlohmann::json& r : records) {
    const double cpu = r["cpu_ms_per_clip"].get<double>();
    const std::string impl = r["impl"].get<std::string>();
    std::printf("%-12s %8d %10.1f %12.1f %16.1f\n", impl.c_str(), r["threads"].get<int>(),
                r["clips_per_s"].get<double>(), cpu, 1000.0 / cpu);
    best[impl] = std::max(best[impl], 1000.0 / cpu);
  }
  std::string other;
  for (const auto& [impl, rate] : best)
    if (impl != "repflow" && (other.empty() || rate > best[other])) other = impl;
  if (!other.empty())
    std::printf("repflow per CPU-second: %.2fx the best other reader (%s)\n",
                best["repflow"] / best[other], other.c_str());
  std::fflush(stdout);
}

int bench(int argc, char** argv) {
  Flags flags("bench_loader",
              "Times the data loader on data it writes itself (frame folders and H.264 .mp4 "
              "files): training clips per second for each worker count, with OpenCV's and "
              "torchvision's video readers on the same files.");
  flags.add("dir", "/tmp", "where the data is written (and removed afterwards)");
  flags.add("source", "frames,video", "what to time: frames (frame folders), video (.mp4 files)");
  flags.add("videos", "16", "videos in each dataset");
  flags.add("video-frames", "48", "frame folders: frames per video");
  flags.add("width", "320", "frame folders: frame width (HMDB's frames are 320x240)");
  flags.add("height", "240", "frame folders: frame height");
  flags.add("format", "jpg", "frame folders: jpg or png frames");
  flags.add("video-sizes", "320x240,640x360",
            "video files: frame sizes, one dataset each (HMDB-like, Kinetics-like)");
  flags.add("video-length", "150", "video files: frames per video (30 fps)");
  flags.add("decode-size", "0", "video files: the trainer's --decode-size (0: full size)");
  flags.add("compare", "true",
            "video files: also time OpenCV's VideoCapture (python3-opencv) and "
            "torchvision.io.read_video (python3-torchvision) on the same files");
  flags.add("python", kDebianPython, "the Python for --compare (Debian's packages)");
  flags.add("frames", "16", "frames per clip");
  flags.add("stride", "1", "frame stride");
  flags.add("resize", "128", "shorter side after resizing");
  flags.add("crop", "112", "crop side");
  flags.add("batch", "8", "clips per batch");
  flags.add("batches", "8", "timed batches per worker count");
  flags.add("workers", "1,2", "comma-separated worker counts to time");
  if (!flags.parse(argc, argv)) return 0;
  Common c;
  c.data.frames = flags.integer_in("frames", 1, kMaxClipFrames);
  c.data.stride = flags.integer_in("stride", 1, kMaxClipFrames);
  c.data.resize = static_cast<int>(flags.integer_in("resize", 0, kMaxFrameSide));
  c.data.crop = static_cast<int>(flags.integer_in("crop", 0, kMaxFrameSide));
  c.batch = flags.integer_in("batch", 1, 100000);
  c.batches = flags.integer_in("batches", 1, 100000);
  c.workers = parse_counts(flags.str("workers"));
  const std::string dir = user_path(flags.str("dir"));
  std::error_code ec;
  RF_CHECK(std::filesystem::is_directory(dir, ec), "bench_loader: flag --dir: ", dir,
           " is not an existing directory");
  const ScratchDir scratch(dir, "repflow_bench_loader.");
  const std::string& root = scratch.path();
  const std::vector<std::string> sources = split(flags.str("source"), ',');
  RF_CHECK(!sources.empty(), "bench_loader: flag --source is empty");
  // --compare times the video readers only.
  if (flags.boolean("compare") && std::count(sources.begin(), sources.end(), "video"))
    c.compare_side = python_side(argv[0], flags.str("python"), "tools/bench_loader_video.py");
  for (const std::string& source : sources) {
    if (source == "frames") {
      bench_frames(flags, root + "/frames", c);
    } else if (source == "video") {
      const std::vector<std::string> sizes = split(flags.str("video-sizes"), ',');
      RF_CHECK(!sizes.empty(), "bench_loader: flag --video-sizes is empty");
      for (const std::string& size : sizes) bench_video(flags, root + "/video_" + size, c, size);
    } else {
      RF_FAIL("bench_loader: flag --source: '", source, "' is not frames or video");
    }
  }
  return 0;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main([&] { return repflow::bench(argc, argv); });
}
