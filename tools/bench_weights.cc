// bench_weights: time to save and load a weight file the size of ResNet-50's state dict, in
// each encoding of docs/weights.md, and the file size.
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "framework/flags.h"
#include "framework/weights.h"
#include "tools/bench_timing.h"

namespace repflow {
namespace {

// The shapes of torchvision's ResNet-50 state dict (25,557,032 parameters plus the batch-norm
// buffers), so the per-tensor overhead is counted as well as the bytes.
std::vector<std::pair<std::string, Shape>> resnet50_shapes() {
  std::vector<std::pair<std::string, Shape>> shapes;
  const auto bn = [&](const std::string& name, int64_t c) {
    for (const char* p : {"weight", "bias", "running_mean", "running_var"})
      shapes.push_back({name + "." + p, {c}});
  };
  shapes.push_back({"conv1.weight", {64, 3, 7, 7}});
  bn("bn1", 64);
  int64_t in = 64;
  const int64_t blocks[] = {3, 4, 6, 3};
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t width = 64 << stage;
    for (int64_t b = 0; b < blocks[stage]; ++b) {
      const std::string p = "layer" + std::to_string(stage + 1) + "." + std::to_string(b) + ".";
      shapes.push_back({p + "conv1.weight", {width, in, 1, 1}});
      bn(p + "bn1", width);
      shapes.push_back({p + "conv2.weight", {width, width, 3, 3}});
      bn(p + "bn2", width);
      shapes.push_back({p + "conv3.weight", {4 * width, width, 1, 1}});
      bn(p + "bn3", 4 * width);
      if (b == 0) {
        shapes.push_back({p + "downsample.0.weight", {4 * width, in, 1, 1}});
        bn(p + "downsample.1", 4 * width);
      }
      in = 4 * width;
    }
  }
  shapes.push_back({"fc.weight", {1000, 2048}});
  shapes.push_back({"fc.bias", {1000}});
  return shapes;
}

bool identical(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  return a.shape() == b.shape() && std::memcmp(x.data(), y.data(), x.size() * 4) == 0;
}

int bench(int argc, char** argv) {
  Flags flags("bench_weights",
              "Times saving and loading a ResNet-50-sized weight file in both encodings of "
              "docs/weights.md, and checks that the values come back bit for bit.");
  flags.add("dir", "/tmp", "directory for the temporary weight file (removed afterwards)");
  flags.add("repeats", "3", "timed save + load pairs per encoding (median)");
  if (!flags.parse(argc, argv)) return 0;
  const int repeats = static_cast<int>(flags.integer_in("repeats", 1, 1000));
  const std::string path = user_path(flags.str("dir")) + "/bench_weights.json";

  Generator gen(0);
  std::vector<std::pair<std::string, Tensor>> tensors;
  int64_t params = 0;
  for (const auto& [name, shape] : resnet50_shapes()) {
    tensors.push_back({name, Tensor::normal(shape, 0.0f, 0.05f, gen)});
    params += shape_numel(shape);
  }

  std::vector<nlohmann::ordered_json> results;
  for (const TensorEncoding encoding : {TensorEncoding::kBase64, TensorEncoding::kPlain}) {
    std::vector<double> save, load;
    bool exact = true;
    for (int i = 0; i < repeats; ++i) {
      const auto t0 = BenchClock::now();
      save_weights(path, tensors, encoding);
      save.push_back(ms_since(t0));
      const auto t1 = BenchClock::now();
      const std::map<std::string, Tensor> back = load_weights(path);
      load.push_back(ms_since(t1));
      for (const auto& [name, t] : tensors) exact = exact && identical(t, back.at(name));
    }
    struct stat st {};
    RF_CHECK(::stat(path.c_str(), &st) == 0, path, ": cannot stat the written file");
    const char* spelling = encoding == TensorEncoding::kBase64 ? "base64-f32le" : "plain";
    results.push_back({{"bench", "weights"},
                       {"impl", "repflow"},
                       {"device", "cpu"},
                       {"threads", 1},
                       {"config",
                        {{"model", "resnet50"},
                         {"params", params},
                         {"tensors", tensors.size()},
                         {"encoding", spelling}}},
                       {"save_ms", median(save)},
                       {"load_ms", median(load)},
                       {"file_bytes", st.st_size},
                       {"bit_exact", exact}});
    std::printf("BENCH %s\n", results.back().dump().c_str());
    std::fflush(stdout);
  }
  std::remove(path.c_str());

  std::printf("\n%-14s %12s %10s %10s %10s %10s\n", "encoding", "params", "save ms", "load ms",
              "file MB", "bit-exact");
  for (const nlohmann::ordered_json& r : results)
    std::printf("%-14s %12lld %10.0f %10.0f %10.1f %10s\n",
                r["config"]["encoding"].get<std::string>().c_str(),
                static_cast<long long>(r["config"]["params"].get<int64_t>()),
                r["save_ms"].get<double>(), r["load_ms"].get<double>(),
                r["file_bytes"].get<double>() / 1e6, r["bit_exact"].get<bool>() ? "yes" : "NO");
  return results[0]["bit_exact"].get<bool>() && results[1]["bit_exact"].get<bool>() ? 0 : 1;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main([&] { return repflow::bench(argc, argv); });
}
