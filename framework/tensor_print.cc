#include <iomanip>
#include <ostream>
#include <sstream>

#include "framework/tensor.h"

namespace repflow {
namespace {

// Dimensions longer than this print their first and last few entries around "...".
constexpr int64_t kEdge = 3;

void print_dim(std::ostream& os, const std::vector<float>& v, const Shape& shape, int d,
               int64_t base) {
  if (d == static_cast<int>(shape.size())) {
    os << v[base];
    return;
  }
  int64_t inner = 1;
  for (size_t k = d + 1; k < shape.size(); ++k) inner *= shape[k];
  os << "[";
  const int64_t n = shape[d];
  for (int64_t i = 0; i < n; ++i) {
    if (n > 2 * kEdge && i == kEdge) {
      os << "..., ";
      i = n - kEdge;
    }
    print_dim(os, v, shape, d + 1, base + i * inner);
    if (i + 1 < n) os << (d + 1 == static_cast<int>(shape.size()) ? ", " : ",\n ");
  }
  os << "]";
}

}  // namespace

std::string Tensor::str() const {
  std::ostringstream os;
  if (!defined()) return "tensor(undefined)";
  os << "tensor(" << std::setprecision(6);
  print_dim(os, to_vector(), shape(), 0, 0);
  os << ", shape=" << shape_str(shape()) << ", device=" << device().str();
  if (requires_grad()) os << ", requires_grad";
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace repflow
