// flow A B --out F.png: the representation-flow layer with fixed parameters as an optical-flow
// method between two images; writes the Middlebury colour coding (with a colour-wheel legend
// unless --legend false) and prints the scale and the mean flow.
#include "ops/flow/flow.h"

#include <cstdio>

#include "framework/autograd.h"
#include "framework/flags.h"
#include "framework/image_io.h"
#include "models/reference/reference_flow_layer.h"
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
              "default parameters.\nusage: flow [flags] A.png B.png --out flow.png");
  flags.add("out", "", "the colour-coded flow PNG to write (required)");
  flags.add("iters", "50", "TV-L1 iterations");
  flags.add("mode", "paper",
            "paper (the fused op) or reference (the published layer's iterations)");
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
  const int64_t iters = flags.integer("iters");
  RF_CHECK(iters >= 1 && iters <= 100000, "flow: flag --iters: ", iters, " is out of range");
  const std::string mode = flags.str("mode");
  RF_CHECK(mode == "paper" || mode == "reference", "flow: flag --mode: '", mode,
           "' is not paper or reference");
  // Bounded so that the float the colours use is a positive, finite number of pixels.
  const double scale_flag = flags.number("scale");
  RF_CHECK(scale_flag == 0 || (scale_flag >= 1e-6 && scale_flag <= 1e6),
           "flow: flag --scale: ", flags.str("scale"),
           " is not 0 (the largest magnitude) or 1e-6 to 1e6 pixels");
  const bool legend = flags.boolean("legend");
  const Tensor a = grey_plane(flags.positional()[0]), b = grey_plane(flags.positional()[1]);
  RF_CHECK(a.shape() == b.shape(), "flow: ", flags.positional()[0], " is ", a.size(3), "x",
           a.size(2), " but ", flags.positional()[1], " is ", b.size(3), "x", b.size(2));
  NoGradGuard no_grad;
  Tensor flow;
  if (mode == "paper") {
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
  const float scale =
      scale_flag > 0 ? static_cast<float>(scale_flag) : largest_flow_magnitude(u, v);
  const Image colours = flow_to_colour(u, v, width, height, scale);
  write_png(user_path(flags.str("out")), legend ? add_legend(colours, scale) : colours);
  double mean_u = 0, mean_v = 0;
  for (size_t i = 0; i < plane; ++i) {
    mean_u += u[i] / plane;
    mean_v += v[i] / plane;
  }
  std::printf("wrote %s (%dx%d flow%s, %s mode, %lld iterations)\n", flags.str("out").c_str(),
              width, height, legend ? " and the colour-wheel legend to its right" : "",
              mode.c_str(), static_cast<long long>(iters));
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
