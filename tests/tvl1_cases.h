#pragma once
// Image pairs with a known flow for the TV-L1 tests: a smooth texture (a sum of plane waves)
// sampled at positions shifted by a known amount, so that the true flow is exact at every pixel.
#include <cmath>
#include <vector>

#include "framework/tensor.h"

namespace repflow::testing {

// The texture at (y, x), grey levels within 0..255: eight plane waves of periods 10 to 38 px.
inline float tvl1_texture(double y, double x) {
  double v = 127.5;
  for (int k = 0; k < 8; ++k) {
    const double angle = 0.7 + 2.39996 * k, period = 10.0 + 4.0 * k;
    const double phase = 1.3 * k;
    v += 15.0 * std::sin(2 * M_PI * (std::cos(angle) * x + std::sin(angle) * y) / period + phase);
  }
  return static_cast<float>(v);
}

// An h x w image of the texture whose content has moved by (dx, dy): pixel (i, j) shows what
// was at (i - dy, j - dx). Frames of a (planes, 1, h, w) tensor, one shift per plane.
inline Tensor tvl1_shifted(int h, int w, const std::vector<std::pair<double, double>>& shifts) {
  std::vector<float> values;
  for (const auto& [dx, dy] : shifts)
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j) values.push_back(tvl1_texture(i - dy, j - dx));
  return Tensor::from_vector({static_cast<int64_t>(shifts.size()), 1, h, w}, values);
}

}  // namespace repflow::testing
