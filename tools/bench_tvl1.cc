// bench_tvl1: time and accuracy of TV-L1 optical flow (ops/flow/tvl1.h) against OpenCV's
// DualTVL1 at the same settings, in one run, on pairs with a known flow made from a real
// photograph (shifts of 1 to 8 px, rotations, zooms: tools/bench_tvl1_opencv.py makes them and
// runs OpenCV). Reports each side's median time and mean endpoint error per pair, and repflow's
// time per pair when all pairs go in one call (its CPU threads take a pair each).
#include <stdlib.h>

#include <climits>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "framework/flags.h"
#include "framework/npy.h"
#include "framework/parallel.h"
#include "framework/text.h"
#include "ops/cat/cat.h"
#include "ops/flow/tvl1.h"
#include "ops/view/view.h"
#include "tools/bench_timing.h"
#include "tools/scratch_dir.h"
#include "tools/torch_runner.h"

namespace repflow {
namespace {

struct Pair {
  std::string name;
  Tensor i0, i1;            // (1, 1, H, W)
  std::vector<float> flow;  // (2, H, W), the truth
  std::vector<float> mask;  // (H, W): 1 where the error counts
};

Tensor image(const std::string& path, Device device) {
  const Tensor t = read_npy(path);
  RF_CHECK(t.dim() == 2, "bench_tvl1: ", path, " is not an (H, W) image");
  return ops::reshape(t, {1, 1, t.size(0), t.size(1)}).to(device);
}

// The mean endpoint error of plane `plane` of a (N, 2, H, W) flow over the pair's mask.
double mean_epe(const std::vector<float>& estimate, int64_t plane, const Pair& p) {
  const size_t hw = p.mask.size();
  const float* u = estimate.data() + plane * 2 * hw;
  double sum = 0, count = 0;
  for (size_t k = 0; k < hw; ++k) {
    sum += p.mask[k] * std::hypot(u[k] - p.flow[k], u[hw + k] - p.flow[hw + k]);
    count += p.mask[k];
  }
  return sum / count;
}

// The median time of `repeats` calls after one untimed call, and the last call's flow.
std::pair<double, std::vector<float>> timed(const Tensor& i0, const Tensor& i1,
                                            const ops::Tvl1Options& o, int repeats) {
  std::vector<double> ms;
  std::vector<float> flow;
  for (int r = 0; r <= repeats; ++r) {
    synchronize(i0.device());
    const auto start = BenchClock::now();
    const Tensor out = ops::tvl1_flow(i0, i1, o);
    synchronize(i0.device());
    if (r > 0) ms.push_back(ms_since(start));
    if (r == repeats) flow = out.to_vector();
  }
  return {median(ms), flow};
}

int bench(int argc, char** argv) {
  Flags flags("bench_tvl1",
              "Times TV-L1 optical flow and measures its endpoint error against OpenCV's "
              "DualTVL1 at the same settings, on pairs with a known flow made from a photograph "
              "(Debian's python3-opencv, and python3-skimage for its default photograph).");
  add_threads_flag(flags, "CPU threads for both");
  flags.add("image", "",
            "the photograph (any format OpenCV reads, made grey); default: scikit-image's "
            "'camera', 512 x 512");
  flags.add("size", "0", "resize the photograph to size x size first (0: as it is)");
  flags.add("repeats", "3", "timed calls per pair (median), after one untimed call");
  flags.add("device", "cpu", "cpu, cuda or cuda:N for repflow (OpenCV runs on the CPU)");
  flags.add("python", kDebianPython, "the Python with Debian's OpenCV");
  flags.add("opencv-defaults", "false",
            "also run OpenCV at its own defaults (up to 300 iterations per warp, scale step 0.8, "
            "a median filter): about 20 s a pair on 512 x 512");
  const ops::Tvl1Options tvl1_defaults;
  flags.add("scales", std::to_string(tvl1_defaults.scales), "pyramid levels, at most (both sides)");
  flags.add("scale-step", number_text(tvl1_defaults.scale_step),
            "each level's size over the next finer one's (both sides)");
  flags.add("warps", std::to_string(tvl1_defaults.warps), "warps per level (both sides)");
  flags.add("iters", std::to_string(tvl1_defaults.iterations), "iterations per warp (both sides)");
  if (!flags.parse(argc, argv)) return 0;
  apply_threads_flag(flags);
  const std::string opencv_side =
      python_side(argv[0], flags.str("python"), "tools/bench_tvl1_opencv.py");
  const Device device = parse_device(flags.str("device"));
  const int repeats = static_cast<int>(flags.integer_in("repeats", 1, 1000));
  const int64_t size = flags.integer("size");
  RF_CHECK(size == 0 || (size >= 16 && size <= 4096), "bench_tvl1: flag --size: ", size,
           " is not 0 or 16 to 4096");
  ops::Tvl1Options o;
  // Within int here; tvl1_flow's own bounds follow.
  o.scales = static_cast<int>(flags.integer_in("scales", 0, INT_MAX));
  o.scale_step = static_cast<float>(flags.number("scale-step"));
  o.warps = static_cast<int>(flags.integer_in("warps", 0, INT_MAX));
  o.iterations = static_cast<int>(flags.integer_in("iters", 0, INT_MAX));
  const Tensor probe = Tensor::zeros({1, 1, 16, 16});
  ops::tvl1_flow(probe, probe, o);  // an Error here names a bad option before OpenCV runs

  const ScratchDir scratch(std::filesystem::temp_directory_path(), "repflow_bench_tvl1_");
  const std::string& dir = scratch.path();
  const nlohmann::json config{{"image", flags.str("image")},
                              {"size", size},
                              {"margin", 16},
                              {"dir", dir},
                              {"threads", num_threads()},
                              {"repeats", repeats},
                              {"opencv_defaults", flags.boolean("opencv-defaults")},
                              {"settings",
                               {{"tau", o.tau},
                                {"lambda", o.lambda},
                                {"theta", o.theta},
                                {"scales", o.scales},
                                {"scale_step", o.scale_step},
                                {"warps", o.warps},
                                {"iterations", o.iterations}}}};
  const std::vector<nlohmann::json> records =
      run_python_benchmark(flags.str("python"), opencv_side, config);
  const nlohmann::json* made = nullptr;
  std::map<std::string, std::map<std::string, nlohmann::json>> opencv;  // setting -> case
  for (const nlohmann::json& r : records) {
    if (r["bench"] == "tvl1_pairs") made = &r;
    if (r["bench"] == "tvl1") opencv[r["setting"]][r["case"]] = r;
  }
  RF_CHECK(made != nullptr,
           "bench_tvl1: the Python side made no image pairs (its message above says why)");

  std::vector<Pair> pairs;
  for (const nlohmann::json& c : (*made)["cases"])
    pairs.push_back({c["name"], image(c["i0"], device), image(c["i1"], device),
                     read_npy(c["flow"]).to_vector(), read_npy(c["mask"]).to_vector()});
  const int levels = ops::tvl1_levels(pairs[0].i0.size(2), pairs[0].i0.size(3), o);
  std::printf(
      "\n%s, %lld x %lld; %d levels (step %g), %d warps, %d iterations per warp; "
      "repflow on %s, %d CPU threads\n",
      (*made)["image"].get<std::string>().c_str(), static_cast<long long>(pairs[0].i0.size(3)),
      static_cast<long long>(pairs[0].i0.size(2)), levels, o.scale_step, o.warps, o.iterations,
      device.str().c_str(), num_threads());
  const bool defaults = opencv.count("opencv defaults") > 0;
  std::printf("%-18s %11s %10s %11s %10s %8s%s\n", "pair", "opencv ms", "opencv EPE", "repflow ms",
              "repflow EPE", "speedup", defaults ? "   opencv-defaults ms  EPE" : "");
  std::vector<Tensor> all0, all1;
  double opencv_total = 0;
  for (const Pair& p : pairs) {
    const auto [ms, flow] = timed(p.i0, p.i1, o, repeats);
    const nlohmann::json& cv = opencv["same"][p.name];
    const double cv_ms = cv["ms"].get<double>();
    opencv_total += cv_ms;
    std::printf("%-18s %11.1f %10.4f %11.1f %11.4f %7.1fx", p.name.c_str(), cv_ms,
                cv["epe"].get<double>(), ms, mean_epe(flow, 0, p), cv_ms / ms);
    if (defaults) {
      const nlohmann::json& d = opencv["opencv defaults"][p.name];
      std::printf("   %18.1f %6.4f", d["ms"].get<double>(), d["epe"].get<double>());
    }
    std::printf("\n");
    all0.push_back(p.i0);
    all1.push_back(p.i1);
  }
  // All pairs in one call: the CPU threads take a pair each.
  const auto [batch_ms, batch_flow] = timed(ops::cat(all0, 0), ops::cat(all1, 0), o, repeats);
  double batch_epe = 0;
  for (size_t k = 0; k < pairs.size(); ++k) batch_epe += mean_epe(batch_flow, k, pairs[k]);
  const double per_pair = batch_ms / pairs.size();
  std::printf("%-18s %11.1f %10s %11.1f %11.4f %7.1fx\n", "all in one call",
              opencv_total / pairs.size(), "", per_pair, batch_epe / pairs.size(),
              opencv_total / pairs.size() / per_pair);
  std::printf(
      "times per pair; EPE = mean endpoint error in px over the pixels that stay 16 px "
      "inside the frame; speedup = opencv ms / repflow ms\n");
  return 0;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main([&] { return repflow::bench(argc, argv); });
}
