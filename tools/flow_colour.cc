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

}  // namespace

Image flow_to_colour(const std::vector<float>& u, const std::vector<float>& v, int width,
                     int height, float max_magnitude) {
  const size_t n = static_cast<size_t>(width) * height;
  RF_CHECK(u.size() == n && v.size() == n, "flow_to_colour: fields of ", u.size(), " and ",
           v.size(), " values for a ", width, "x", height, " image");
  float scale = max_magnitude;
  if (scale <= 0)
    for (size_t i = 0; i < n; ++i) scale = std::max(scale, std::hypot(u[i], v[i]));
  scale = std::max(scale, 1e-9f);
  static const std::vector<std::array<float, 3>> wheel = colour_wheel();
  const int ncols = static_cast<int>(wheel.size());
  Image image;
  image.width = width;
  image.height = height;
  image.channels = 3;
  image.pixels.resize(n * 3);
  for (size_t i = 0; i < n; ++i) {
    const float rad = std::hypot(u[i], v[i]) / scale;
    const float angle = std::atan2(-v[i], -u[i]) / static_cast<float>(M_PI);
    const float fk = (angle + 1) / 2 * (ncols - 1);
    const int k0 = static_cast<int>(std::floor(fk)) % ncols, k1 = (k0 + 1) % ncols;
    const float f = fk - std::floor(fk);
    for (int c = 0; c < 3; ++c) {
      float col = (1 - f) * wheel[k0][c] + f * wheel[k1][c];
      col = rad <= 1 ? 1 - rad * (1 - col) : col * 0.75f;
      image.pixels[i * 3 + c] =
          static_cast<uint8_t>(std::lround(255 * std::clamp(col, 0.0f, 1.0f)));
    }
  }
  return image;
}

}  // namespace repflow
