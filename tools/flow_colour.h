#pragma once
// Middlebury colour coding of optical flow (Baker et al., IJCV 2011): hue gives the direction,
// saturation the magnitude relative to a scale (in pixels) at which it is full.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "framework/flags.h"
#include "framework/image_io.h"

namespace repflow {

// The colour of one flow vector (u, v) in pixels, `scale` (> 0) pixels at full saturation.
// Longer vectors are clipped to full saturation, so the same scale means the same colours in
// every image. The flow pixels and the legend both come from here, so they cannot disagree.
std::array<uint8_t, 3> flow_colour(float u, float v, float scale);

// The largest magnitude of the field (0 for a zero field).
float largest_flow_magnitude(const std::vector<float>& u, const std::vector<float>& v);

// The flow tools' --scale flag: 0 (the largest magnitude shown) or a number of pixels within
// these bounds, so that the float the colours use is positive and finite.
constexpr double kMinFlowScale = 1e-6, kMaxFlowScale = 1e6;
// The flag checked: an Error naming `tool` when it is out of bounds.
double flow_scale_flag(const Flags& flags, const std::string& tool);
// The scale drawn: the flag's, or when it is 0 the largest magnitude shown, or 1 for a zero
// field (white at any scale), so that the legend's rim still means something.
float flow_colour_scale(double flag, float largest);

// u, v: x and y flow of a height x width field, row-major; each pixel is flow_colour(u, v, scale).
Image flow_to_colour(const std::vector<float>& u, const std::vector<float>& v, int width,
                     int height, float scale);

// Where the legend's wheel lies on the canvas add_legend makes for a width x height flow image:
// centre and radius in pixels (pixel (x, y) covers [x, x + 1) x [y, y + 1)).
struct LegendWheel {
  float centre_x, centre_y, radius;
};
LegendWheel legend_wheel(int width, int height);

// `flow` (flow_to_colour's image) on a canvas widened by a black margin on the right that holds
// the colour wheel: the pixel at offset (dx, dy) from the centre has the colour of the flow
// (dx, dy) / radius * scale, so saturation rises to full at the rim (= scale pixels). The flow
// pixels are copied unchanged to the top-left corner; black is never a flow colour (one channel
// is always 255), so the margin cannot be mistaken for flow.
Image add_legend(const Image& flow, float scale);

}  // namespace repflow
