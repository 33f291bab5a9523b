#pragma once
// Middlebury colour coding of optical flow (Baker et al., IJCV 2011): hue gives the direction,
// saturation the magnitude relative to the largest in the field.
#include <vector>

#include "framework/image_io.h"

namespace repflow {

// u, v: x and y flow of a height x width field, row-major. Magnitudes are scaled by the largest
// one (or by max_magnitude when > 0).
Image flow_to_colour(const std::vector<float>& u, const std::vector<float>& v, int width,
                     int height, float max_magnitude = 0.0f);

}  // namespace repflow
