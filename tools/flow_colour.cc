#include "tools/flow_colour.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "framework/error.h"

namespace repflow {
namespace {

// The Middlebury wheel: segments red-yellow, yellow-green, green-cyan, cyan-blue,
// blue-magenta, magenta-red with these numbers of steps.
std::vector<std::array<float, 3>> colour_wheel() {
  const int segments[6] = {15, 6, 4, 11, 13, 6};
  std::vector<std::array<float, 3>> wheel;
  for (int s = 0; s < 6; ++s) {
    for (int i = 0; i < segments[s]; ++i) {
      const float f = static_cast<float>(i) / segments[s];
      switch (s) {
        case 0:
          wheel.push_back({1, f, 0});
          break;
        case 1:
          wheel.push_back({1 - f, 1, 0});
          break;
        case 2:
          wheel.push_back({0, 1, f});
          break;
        case 3:
          wheel.push_back({0, 1 - f, 1});
          break;
        case 4:
          wheel.push_back({f, 0, 1});
          break;
        default:
          wheel.push_back({1, 0, 1 - f});
          break;
      }
    }
  }
  return wheel;
}

// The legend's margin: a gap on each side of the wheel, and a wheel diameter that follows the
// image's height but stays large enough to show every hue step and small beside big images.
constexpr int kLegendGap = 4, kMinWheel = 40, kMaxWheel = 160;

int wheel_diameter(int height) { return std::clamp(height - 2 * kLegendGap, kMinWheel, kMaxWheel); }

}  // namespace

std::array<uint8_t, 3> flow_colour(float u, float v, float scale) {
  RF_CHECK(std::isfinite(scale) && scale > 0, "flow_colour: scale ", scale,
           " is not a positive number of pixels");
  static const std::vector<std::array<float, 3>> wheel = colour_wheel();
  const int ncols = static_cast<int>(wheel.size());
  // Clipped, where Middlebury's code darkens vectors past the scale: brightness then never
  // depends on the scale, and a clipped vector still shows its direction at full strength.
  const float rad = std::min(std::hypot(u, v) / scale, 1.0f);
  const float angle = std::atan2(-v, -u) / static_cast<float>(M_PI);
  const float fk = (angle + 1) / 2 * (ncols - 1);
  const int k0 = static_cast<int>(std::floor(fk)) % ncols, k1 = (k0 + 1) % ncols;
  const float f = fk - std::floor(fk);
  std::array<uint8_t, 3> rgb;
  for (int c = 0; c < 3; ++c) {
    const float col = 1 - rad * (1 - ((1 - f) * wheel[k0][c] + f * wheel[k1][c]));
    rgb[c] = static_cast<uint8_t>(std::lround(255 * std::clamp(col, 0.0f, 1.0f)));
  }
  return rgb;
}

float largest_flow_magnitude(const std::vector<float>& u, const std::vector<float>& v) {
  RF_CHECK(u.size() == v.size(), "largest_flow_magnitude: fields of ", u.size(), " and ", v.size(),
           " values");
  float largest = 0;
  for (size_t i = 0; i < u.size(); ++i) largest = std::max(largest, std::hypot(u[i], v[i]));
  return largest;
}

double flow_scale_flag(const Flags& flags, const std::string& tool) {
  const double scale = flags.number("scale");
  RF_CHECK(scale == 0 || (scale >= kMinFlowScale && scale <= kMaxFlowScale), tool,
           ": flag --scale: ", excerpt(flags.str("scale")), " is not 0 (the largest magnitude) or ",
           kMinFlowScale, " to ", kMaxFlowScale, " pixels");
  return scale;
}

float flow_colour_scale(double flag, float largest) {
  if (flag > 0) return static_cast<float>(flag);
  return largest > 0 ? largest : 1.0f;
}

Image flow_to_colour(const std::vector<float>& u, const std::vector<float>& v, int width,
                     int height, float scale) {
  const size_t n = static_cast<size_t>(width) * height;
  RF_CHECK(u.size() == n && v.size() == n, "flow_to_colour: fields of ", u.size(), " and ",
           v.size(), " values for a ", width, "x", height, " image");
  Image image;
  image.width = width;
  image.height = height;
  image.channels = 3;
  image.pixels.resize(n * 3);
  for (size_t i = 0; i < n; ++i) {
    const std::array<uint8_t, 3> rgb = flow_colour(u[i], v[i], scale);
    std::copy(rgb.begin(), rgb.end(), image.pixels.begin() + i * 3);
  }
  return image;
}

LegendWheel legend_wheel(int width, int height) {
  const float radius = wheel_diameter(height) / 2.0f;
  return {static_cast<float>(width + kLegendGap) + radius, kLegendGap + radius, radius};
}

Image add_legend(const Image& flow, float scale) {
  RF_CHECK(flow.channels == 3, "add_legend: a flow image has 3 channels, not ", flow.channels);
  const int diameter = wheel_diameter(flow.height);
  Image canvas;
  canvas.width = flow.width + diameter + 2 * kLegendGap;
  canvas.height = std::max(flow.height, diameter + 2 * kLegendGap);
  canvas.channels = 3;
  canvas.pixels.assign(static_cast<size_t>(canvas.width) * canvas.height * 3, 0);
  const size_t flow_row = static_cast<size_t>(flow.width) * 3, canvas_row = canvas.width * 3;
  for (int y = 0; y < flow.height; ++y)
    std::copy_n(flow.pixels.begin() + y * flow_row, flow_row,
                canvas.pixels.begin() + y * canvas_row);
  const LegendWheel wheel = legend_wheel(flow.width, flow.height);
  for (int y = 0; y < canvas.height; ++y)
    for (int x = flow.width; x < canvas.width; ++x) {
      const float dx = (x + 0.5f - wheel.centre_x) / wheel.radius,
                  dy = (y + 0.5f - wheel.centre_y) / wheel.radius;
      if (std::hypot(dx, dy) > 1) continue;
      const std::array<uint8_t, 3> rgb = flow_colour(dx * scale, dy * scale, scale);
      std::copy(rgb.begin(), rgb.end(), canvas.pixels.begin() + y * canvas_row + x * 3);
    }
  return canvas;
}

}  // namespace repflow
