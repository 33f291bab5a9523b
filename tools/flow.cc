// flow A B --out F.png: optical flow between two images, by the representation-flow layer with
// fixed parameters (--method layer) or by TV-L1 with its pyramid and warping (--method tvl1);
// writes the Middlebury colour coding (with a colour-wheel legend unless --legend false) and
// prints the scale and the mean flow.
#include "ops/flow/flow.h"

#include <cstdio>
#include <string>
#include <vector>

#include "framework/atomic_file.h"
#include "framework/autograd.h"
#include "framework/flags.h"
#include "framework/image_io.h"
#include "framework/text.h"
#include "models/reference/reference_flow_layer.h"
#include "ops/flow/tvl1.h"
#include "tools/flow_colour.h"

namespace repflow {
namespace {

Tensor grey_plane(const std::string& path) {
  const Image image = read_image(user_path(path), 1);
  std::vector<float> values(image.pixels.begin(), image.pixels.end());
  return Tensor::from_vector({1, 1, image.height, image.width}, values);
}

int run(int argc, char** argv) {
  Flags flags("flow",
              "Computes the flow between two images (grey levels 0..255) with the flow layer's "
              "default parameters or with TV-L1.\nusage: flow [flags] A.png B.png --out flow.png");
  flags.add("out", "", "the colour-coded flow PNG to write (required)");
  flags.add("method", "layer",
            "layer (the flow layer's iterations on the images as they are) or tvl1 (TV-L1 "
            "optical flow: the same iterations on an image pyramid, with warping)");
  flags.add("iters", "50", "with --method layer: the layer's iterations");
  flags.add("mode", "paper",
            "with --method layer: paper (the fused op) or reference (the published layer's "
            "iterations)");
  const ops::Tvl1Options tvl1_defaults;
  flags.add("scales", std::to_string(tvl1_defaults.scales),
            "with --method tvl1: pyramid levels, at most");
  flags.add("scale-step", number_text(tvl1_defaults.scale_step),
            "with --method tvl1: each level's size over the next finer one's");
  flags.add("warps", std::to_string(tvl1_defaults.warps), "with --method tvl1: warps per level");
  flags.add("warp-iters", std::to_string(tvl1_defaults.iterations),
            "with --method tvl1: iterations per warp");
  flags.add("scale", "0",
            "the flow magnitude in pixels shown at full saturation; larger magnitudes are "
            "clipped to full saturation (0: the largest magnitude in the field)");
  flags.add("legend", "true",
            "draw the colour wheel (hue = direction, full saturation at the rim = the scale) in a "
            "margin to the right of the flow; --legend=false leaves it out");
  if (!flags.parse(argc, argv, /*allow_positional=*/true)) return 0;
  RF_CHECK(flags.positional().size() == 2, "flow: expected two images A and B, got ",
           flags.positional().size(), " arguments (see --help)");
  RF_CHECK(!flags.str("out").empty(), "flow: flag --out is required");
  check_output_file(user_path(flags.str("out")), "flag --out",
                    {user_path(flags.positional()[0]), user_path(flags.positional()[1])});
  const std::string method = flags.str("method");
  RF_CHECK(method == "layer" || method == "tvl1", "flow: flag --method: '", excerpt(method),
           "' is not layer or tvl1");
  const bool tvl1 = method == "tvl1";
  // The other method's flags would be ignored, unchecked.
  flags.refuse_given(
      tvl1 ? std::vector<std::string>{"iters", "mode"}
           : std::vector<std::string>{"scales", "scale-step", "warps", "warp-iters"},
      std::string("is for --method ") + (tvl1 ? "layer" : "tvl1") + ", not " + method, "flow");
  const int64_t iters = flags.integer(tvl1 ? "warp-iters" : "iters");
  RF_CHECK(iters >= 1 && iters <= ops::kTvl1MaxIterations, "flow: flag --",
           tvl1 ? "warp-iters" : "iters", ": ", iters, " is not 1 to ", ops::kTvl1MaxIterations);
  const std::string mode = flags.str("mode");
  RF_CHECK(mode == "paper" || mode == "reference", "flow: flag --mode: '", excerpt(mode),
           "' is not paper or reference");
  ops::Tvl1Options tvl1_options;
  tvl1_options.iterations = static_cast<int>(iters);
  const int64_t scales = flags.integer("scales"), warps = flags.integer("warps");
  RF_CHECK(scales >= 1 && scales <= ops::kTvl1MaxScales, "flow: flag --scales: ", scales,
           " is not 1 to ", ops::kTvl1MaxScales);
  RF_CHECK(warps >= 1 && warps <= ops::kTvl1MaxWarps, "flow: flag --warps: ", warps,
           " is not 1 to ", ops::kTvl1MaxWarps);
  const double scale_step = flags.number("scale-step");
  RF_CHECK(scale_step > 0 && scale_step < 1, "flow: flag --scale-step: ", flags.str("scale-step"),
           " is not between 0 and 1");
  tvl1_options.scales = static_cast<int>(scales);
  tvl1_options.warps = static_cast<int>(warps);
  tvl1_options.scale_step = static_cast<float>(scale_step);
  // Bounded so that the float the colours use is a positive, finite number of pixels.
  const double scale_flag = flow_scale_flag(flags, "flow");
  const bool legend = flags.boolean("legend");
  const Tensor a = grey_plane(flags.positional()[0]), b = grey_plane(flags.positional()[1]);
  RF_CHECK(a.shape() == b.shape(), "flow: ", flags.positional()[0], " is ", a.size(3), "x",
           a.size(2), " but ", flags.positional()[1], " is ", b.size(3), "x", b.size(2));
  // The published layer takes one-sided differences at the borders: two pixels each way.
  RF_CHECK(tvl1 || mode == "paper" || (a.size(2) >= 2 && a.size(3) >= 2),
           "flow: --mode reference needs images of at least 2x2, ", flags.positional()[0], " is ",
           a.size(3), "x", a.size(2));
  NoGradGuard no_grad;
  Tensor flow;
  if (tvl1) {
    flow = ops::tvl1_flow(a, b, tvl1_options);
  } else if (mode == "paper") {
    flow = ops::representation_flow(a, b, ops::default_flow_params(), static_cast<int>(iters));
  } else {
    ReferenceFlowLayer layer(1, 1, static_cast<int>(iters));
    flow = layer.flow(a, b);
  }
  const int height = static_cast<int>(a.size(2)), width = static_cast<int>(a.size(3));
  const std::vector<float> values = flow.to_vector();
  const size_t plane = static_cast<size_t>(width) * height;
  const std::vector<float> u(values.begin(), values.begin() + plane),
      v(values.begin() + plane, values.end());
  const float scale = flow_colour_scale(scale_flag, largest_flow_magnitude(u, v));
  const Image colours = flow_to_colour(u, v, width, height, scale);
  write_png(user_path(flags.str("out")), legend ? add_legend(colours, scale) : colours);
  double mean_u = 0, mean_v = 0;
  for (size_t i = 0; i < plane; ++i) {
    mean_u += u[i] / plane;
    mean_v += v[i] / plane;
  }
  const std::string how =
      tvl1 ? "TV-L1, " + std::to_string(ops::tvl1_levels(height, width, tvl1_options)) +
                 " levels, " + std::to_string(warps) + " warps, " + std::to_string(iters) +
                 " iterations per warp"
           : "layer, " + mode + " mode, " + std::to_string(iters) + " iterations";
  std::printf("wrote %s (%dx%d flow%s, %s)\n", flags.str("out").c_str(), width, height,
              legend ? " and the colour-wheel legend to its right" : "", how.c_str());
  std::printf("scale=%g px (full saturation, %s)\n", scale,
              scale_flag > 0 ? "--scale" : "the largest magnitude");
  std::printf("mean_flow_x=%.6f mean_flow_y=%.6f\n", mean_u, mean_v);
  return 0;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main([&] { return repflow::run(argc, argv); });
}
