#pragma once
// NumPy .npy arrays of float32 (format versions 1 to 3), the exchange format for clips prepared
// outside repflow (np.save(path, clip.astype('<f4'))).
#include <string>

#include "framework/tensor.h"

namespace repflow {

// A little-endian float32, C-order array as a CPU tensor of its shape. Errors name the file:
// missing, bad magic or header, another dtype, Fortran order, a shape of rank 0 or above 8, or
// data that is shorter or longer than the shape says.
Tensor read_npy(const std::string& path);

}  // namespace repflow
