// show_flow: a clip through a trained model, and a picture of what its flow layers compute (the
// paper's Fig. 7): a PNG grid of the x/y flow of chosen channels at chosen time steps, in
// Middlebury colours with a colour-wheel legend, one band of rows per flow layer (each stage of
// a flow of flow, in the order the network runs them).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "framework/atomic_file.h"
#include "framework/autograd.h"
#include "framework/flags.h"
#include "framework/image_io.h"
#include "framework/text.h"
#include "models/flow_observer.h"
#include "models/model_flags.h"
#include "models/weights_io.h"
#include "ops/slice/slice.h"
#include "tools/clip_input.h"
#include "tools/flow_colour.h"

namespace repflow {
namespace {

// "0,3,5" -> {0, 3, 5}, each in [0, count); "" -> the first min(count, limit).
std::vector<int64_t> parse_indices(const std::string& text, int64_t count, int64_t limit,
                                   const std::string& flag) {
  std::vector<int64_t> out;
  if (text.empty()) {
    for (int64_t i = 0; i < std::min(count, limit); ++i) out.push_back(i);
    return out;
  }
  for (const std::string& item : split(text, ',')) {
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    RF_CHECK(!item.empty() && *end == '\0' && v >= 0 && v < count, "show_flow: flag --", flag,
             ": '", excerpt(item), "' is not an index between 0 and ", count - 1);
    RF_CHECK(out.size() < 1000, "show_flow: flag --", flag, ": more than 1000 indices");
    out.push_back(v);
  }
  return out;
}

// One flow layer's output for one clip: (2C', T', H, W) values, x-flow channels first.
struct Field {
  std::vector<float> values;
  int64_t channels = 0, times = 0, height = 0, width = 0;
  const float* plane(int64_t channel, int64_t t) const {
    return values.data() + ((channel * times) + t) * height * width;
  }
};

int run(int argc, char** argv) {
  const std::optional<WeightsFile> weights = read_weights_file(argc, argv);
  Flags flags("show_flow",
              "Runs one clip through a model with its weights and draws the flow its flow "
              "layers compute:\n  show_flow --weights W.json (--video FILE|DIR | --input-npy "
              "F.npy) --out flows.png\nRows: for each flow layer (each stage of a flow of flow), "
              "one row per --channels channel;\ncolumns: the --times time steps (flow between "
              "frames t and t + 1 of the layer's input).\nColours: Middlebury (hue = direction, "
              "saturation = magnitude up to --scale pixels), with\nthe colour wheel at the right; "
              "black lines separate the cells. Clips are cut as //tools:infer\ncuts them.");
  add_model_and_clip_flags(flags, argc, argv, weights);
  flags.add("out", "", "the PNG to write (required)");
  flags.add("clip", "0", "which of --clips clips (or of the .npy array's samples) to show");
  flags.add("channels", "", "flow channels to show, e.g. 0,5,7 (default: the first 8)");
  flags.add("times", "", "time steps to show, e.g. 0,2 (default: the first 8)");
  flags.add("cell", "64", "side in pixels each flow map is scaled to (nearest neighbour)");
  flags.add("scale", "0",
            "the flow magnitude in pixels shown at full saturation (0: the largest magnitude "
            "shown)");
  flags.add("legend", "true", "draw the colour wheel to the right of the grid");
  add_threads_flag(flags, "CPU threads");
  if (!flags.parse(argc, argv)) return 0;
  apply_threads_flag(flags);
  RF_CHECK(weights, "show_flow: flag --weights is required");
  RF_CHECK(!flags.str("out").empty(), "show_flow: flag --out is required");
  check_output_file(user_path(flags.str("out")), "flag --out", clip_input_paths(flags, *weights));
  const int cell = static_cast<int>(flags.integer_in("cell", 1, 1024));
  const double scale_flag = flow_scale_flag(flags, "show_flow");
  const ModelSpec spec = model_spec_from_flags(flags, /*with_classes=*/true);

  std::string what;
  const Tensor clips = read_clips(flags, "show_flow", &what);
  const int64_t clip = flags.integer_in("clip", 0, clips.size(0) - 1);
  std::shared_ptr<Module> net = make_model(spec);
  load_weights_into(*net, weights->tensors, weights->path);
  net->eval();
  std::vector<Field> fields;
  net->apply([&](Module& m) {
    if (auto* layer = dynamic_cast<FlowObservable*>(&m))
      layer->set_flow_observer([&](const Tensor& flow) {
        Field f;
        f.channels = flow.size(1);
        f.times = flow.size(2);
        f.height = flow.size(3);
        f.width = flow.size(4);
        f.values = flow.contiguous().to_vector();  // one clip: the forward below sees one
        fields.push_back(std::move(f));
      });
  });
  {
    NoGradGuard no_grad;
    net->forward(ops::narrow(clips, 0, clip, 1));
  }
  RF_CHECK(!fields.empty(), "show_flow: model ", spec.name, " has no flow layer (flow ",
           spec.options.count("flow") ? spec.options.at("flow") : "fixed", ")");

  // The grid: cells of cell x cell pixels with 2-pixel black lines between them and between
  // the layers' bands.
  const int64_t kLine = 2;
  std::vector<std::vector<int64_t>> channels, times;
  int64_t columns = 0, rows = 0;
  for (size_t i = 0; i < fields.size(); ++i) {
    const int64_t c = fields[i].channels / 2;
    channels.push_back(parse_indices(flags.str("channels"), c, 8, "channels"));
    times.push_back(parse_indices(flags.str("times"), fields[i].times, 8, "times"));
    columns = std::max<int64_t>(columns, times.back().size());
    rows += static_cast<int64_t>(channels.back().size());
  }
  const int64_t width = columns * (cell + kLine) - kLine;
  const int64_t height =
      rows * (cell + kLine) + (static_cast<int64_t>(fields.size()) - 1) * kLine - kLine;
  RF_CHECK(width * height <= kMaxImagePixels, "show_flow: a grid of ", width, "x", height,
           " pixels is too large; show fewer --channels or --times, or a smaller --cell");
  std::vector<float> u(static_cast<size_t>(width * height), 0), v(u.size(), 0);
  std::vector<bool> inside(u.size(), false);
  int64_t top = 0;
  float largest_shown = 0;
  for (size_t i = 0; i < fields.size(); ++i) {
    const Field& f = fields[i];
    const int64_t c = f.channels / 2;
    float largest = 0;
    for (int64_t ch : channels[i]) {
      for (size_t k = 0; k < times[i].size(); ++k) {
        const float* fu = f.plane(ch, times[i][k]);
        const float* fv = f.plane(c + ch, times[i][k]);
        const int64_t left = static_cast<int64_t>(k) * (cell + kLine);
        for (int64_t y = 0; y < cell; ++y)
          for (int64_t x = 0; x < cell; ++x) {
            const int64_t sy = y * f.height / cell, sx = x * f.width / cell;
            const size_t at = static_cast<size_t>((top + y) * width + left + x);
            u[at] = fu[sy * f.width + sx];
            v[at] = fv[sy * f.width + sx];
            inside[at] = true;
            largest = std::max(largest, std::hypot(u[at], v[at]));
          }
      }
      top += cell + kLine;
    }
    top += kLine;
    std::printf(
        "flow layer %zu: %lld channels, %lld time steps, %lldx%lld, largest magnitude "
        "shown %.4g px\n",
        i + 1, static_cast<long long>(c), static_cast<long long>(f.times),
        static_cast<long long>(f.width), static_cast<long long>(f.height), largest);
    largest_shown = std::max(largest_shown, largest);
  }
  const float scale = flow_colour_scale(scale_flag, largest_shown);
  Image grid = flow_to_colour(u, v, static_cast<int>(width), static_cast<int>(height), scale);
  for (size_t at = 0; at < inside.size(); ++at)
    if (!inside[at]) std::fill_n(grid.pixels.begin() + at * 3, 3, 0);
  if (flags.boolean("legend")) grid = add_legend(grid, scale);
  write_png(user_path(flags.str("out")), grid);
  std::printf("%s\nwrote %s (%dx%d), scale %.4g px at full saturation\n", what.c_str(),
              flags.str("out").c_str(), grid.width, grid.height, scale);
  return 0;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main([&] { return repflow::run(argc, argv); });
}
