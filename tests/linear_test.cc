#include "ops/linear/linear.h"

#include <gtest/gtest.h>

#include <cmath>

#include "framework/parallel.h"
#include "ops/slice/slice.h"
#include "ops/view/view.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

using testing::random_leaf;

// Element i of `shape` read from a tensor of shape `from` broadcast up to it (missing leading
// dims and size-1 dims repeat), as a row-major index into `from`.
int64_t broadcast_index(const Shape& index, const Shape& from) {
  const size_t lead = index.size() - from.size();
  int64_t flat = 0;
  for (size_t d = 0; d < from.size(); ++d)
    flat = flat * from[d] + (from[d] == 1 ? 0 : index[lead + d]);
  return flat;
}

// The matmul of a and b (any ranks >= 2, broadcast batches) by loops in double.
std::vector<double> reference_matmul(const Tensor& a, const Tensor& b, Shape* out_shape) {
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  const int64_t m = sa[sa.size() - 2], k = sa.back(), n = sb.back();
  const size_t batch_rank = std::max(sa.size(), sb.size()) - 2;
  Shape batch(batch_rank, 1);
  for (size_t d = 0; d < batch_rank; ++d) {
    const int64_t da = d + sa.size() >= batch_rank + 2 ? sa[d + sa.size() - batch_rank - 2] : 1;
    const int64_t db = d + sb.size() >= batch_rank + 2 ? sb[d + sb.size() - batch_rank - 2] : 1;
    batch[d] = std::max(da, db);
  }
  *out_shape = batch;
  out_shape->push_back(m);
  out_shape->push_back(n);
  const std::vector<float> va = a.to_vector(), vb = b.to_vector();
  std::vector<double> out(shape_numel(*out_shape));
  for (int64_t i = 0; i < static_cast<int64_t>(out.size()); ++i) {
    Shape index(out_shape->size());
    for (int64_t d = out_shape->size() - 1, rest = i; d >= 0; --d) {
      index[d] = rest % (*out_shape)[d];
      rest /= (*out_shape)[d];
    }
    double acc = 0;
    for (int64_t p = 0; p < k; ++p) {
      Shape ia = index, ib = index;
      ia[batch_rank + 1] = p;
      ib[batch_rank] = p;
      acc += static_cast<double>(va[broadcast_index(ia, sa)]) * vb[broadcast_index(ib, sb)];
    }
    out[i] = acc;
  }
  return out;
}

void expect_near_values(const Tensor& got, const std::vector<double>& want) {
  const std::vector<float> v = got.to_vector();
  ASSERT_EQ(v.size(), want.size());
  for (size_t i = 0; i < v.size(); ++i)
    EXPECT_NEAR(v[i], want[i], 1e-5 * (1 + std::fabs(want[i])) * 10) << "element " << i;
}

void expect_matmul_matches_loops(const Tensor& a, const Tensor& b) {
  SCOPED_TRACE(shape_str(a.shape()) + " x " + shape_str(b.shape()));
  Shape shape;
  const std::vector<double> want = reference_matmul(a, b, &shape);
  const Tensor out = ops::matmul(a, b);
  ASSERT_EQ(out.shape(), shape);
  expect_near_values(out, want);
}

Tensor matmul_fn(const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1]); }

struct Pair {
  Shape a, b;
};

// 2-D with odd sizes, 1xK and Kx1 in both orders, batches, broadcast batches of either side.
const Pair kPairs[] = {
    {{3, 4}, {4, 5}},          {{7, 13}, {13, 1}},     {{1, 9}, {9, 1}},    {{9, 1}, {1, 9}},
    {{1, 5}, {5, 6}},          {{2, 3, 4}, {2, 4, 5}}, {{4, 5}, {2, 5, 3}}, {{2, 3, 4}, {4, 6}},
    {{3, 1, 4, 5}, {2, 5, 6}}, {{1, 2, 3}, {4, 3, 2}},
};

TEST(MatmulTest, MatchesLoops) {
  uint64_t seed = 1;
  for (const Pair& p : kPairs) {
    expect_matmul_matches_loops(random_leaf(p.a, seed), random_leaf(p.b, seed + 1));
    seed += 2;
  }
}

TEST(MatmulTest, Gradients) {
  uint64_t seed = 100;
  for (const Pair& p : kPairs) {
    SCOPED_TRACE(shape_str(p.a) + " x " + shape_str(p.b));
    EXPECT_GRADCHECK(matmul_fn, {random_leaf(p.a, seed), random_leaf(p.b, seed + 1)});
    seed += 2;
  }
}

// Transposed views reach BLAS as transposition flags; a strided slice and a broadcast
// (stride-0) matrix are packed first. Values and gradients must not care.
TEST(MatmulTest, NonContiguousOperands) {
  const auto transposed = [](const std::vector<Tensor>& in) {
    return ops::matmul(ops::transpose(in[0], 0, 1), ops::transpose(in[1], -1, -2));
  };
  const Tensor a = random_leaf({5, 3}, 1), b = random_leaf({2, 4, 5}, 2);
  expect_matmul_matches_loops(ops::transpose(a, 0, 1), ops::transpose(b, -1, -2));
  EXPECT_GRADCHECK(transposed, {a, b});

  const auto sliced = [](const std::vector<Tensor>& in) {
    return ops::matmul(ops::slice(in[0], 1, 0, 8, 2), ops::permute(in[1], {2, 0, 1}));
  };
  const Tensor c = random_leaf({3, 8}, 3), d = random_leaf({4, 6, 2}, 4);
  expect_matmul_matches_loops(ops::slice(c, 1, 0, 8, 2), ops::permute(d, {2, 0, 1}));
  EXPECT_GRADCHECK(sliced, {c, d});

  const auto expanded = [](const std::vector<Tensor>& in) {
    return ops::matmul(ops::expand(in[0], {3, 4}), in[1]);
  };
  const Tensor e = random_leaf({1, 4}, 5), f = random_leaf({4, 2}, 6);
  expect_matmul_matches_loops(ops::expand(e, {3, 4}), f);
  EXPECT_GRADCHECK(expanded, {e, f});
}

// Many small products take the parallel batch path, large ones OpenBLAS's threads; both with
// one and several threads.
TEST(MatmulTest, LargeAndManySmall) {
  const int saved = num_threads();
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    SCOPED_TRACE(threads);
    expect_matmul_matches_loops(random_leaf({70, 150}, 7), random_leaf({150, 90}, 8));
    expect_matmul_matches_loops(random_leaf({64, 5, 7}, 9), random_leaf({64, 7, 3}, 10));
  }
  set_num_threads(saved);
}

TEST(MatmulTest, EmptyInnerDimensionGivesZeros) {
  const Tensor out = ops::matmul(Tensor::zeros({2, 0}), Tensor::zeros({0, 3}));
  ASSERT_EQ(out.shape(), (Shape{2, 3}));
  for (float v : out.to_vector()) EXPECT_EQ(v, 0.0f);
  EXPECT_EQ(ops::matmul(Tensor::zeros({0, 4}), Tensor::zeros({4, 3})).shape(), (Shape{0, 3}));
}

TEST(MatmulTest, Errors) {
  EXPECT_ERROR_CONTAINS(ops::matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})),
                        "matmul: shapes [2,3] and [4,5] cannot be multiplied (3 != 4)");
  EXPECT_ERROR_CONTAINS(ops::matmul(Tensor::zeros({3}), Tensor::zeros({3, 2})),
                        "matmul: shapes [3] and [3,2] need at least 2 dimensions");
  EXPECT_ERROR_CONTAINS(ops::matmul(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 3, 4})),
                        "matmul: batch dimensions of shapes [2,2,3] and [3,3,4] cannot broadcast");
}

// linear(x, w, b)[r, o] = sum_i x[r, i] w[o, i] + b[o], by loops in double.
std::vector<double> reference_linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  const int64_t in = w.size(1), out = w.size(0), rows = x.numel() / in;
  const std::vector<float> vx = x.to_vector(), vw = w.to_vector();
  const std::vector<float> vb = b.defined() ? b.to_vector() : std::vector<float>(out, 0.0f);
  std::vector<double> y(rows * out);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double acc = vb[o];
      for (int64_t i = 0; i < in; ++i) acc += static_cast<double>(vx[r * in + i]) * vw[o * in + i];
      y[r * out + o] = acc;
    }
  return y;
}

TEST(LinearTest, MatchesLoops) {
  const Tensor w = random_leaf({5, 7}, 1), b = random_leaf({5}, 2);
  for (const Shape& shape : {Shape{7}, Shape{1, 7}, Shape{4, 7}, Shape{2, 3, 7}}) {
    SCOPED_TRACE(shape_str(shape));
    const Tensor x = random_leaf(shape, 3);
    Shape out_shape = shape;
    out_shape.back() = 5;
    const Tensor y = ops::linear(x, w, b);
    ASSERT_EQ(y.shape(), out_shape);
    expect_near_values(y, reference_linear(x, w, b));
    expect_near_values(ops::linear(x, w), reference_linear(x, w, Tensor()));
  }
  // A transposed input is read in place.
  const Tensor xt = ops::transpose(random_leaf({7, 4}, 4), 0, 1);
  expect_near_values(ops::linear(xt, w, b), reference_linear(xt, w, b));
}

TEST(LinearTest, GradientsOfInputWeightAndBias) {
  const auto with_bias = [](const std::vector<Tensor>& in) {
    return ops::linear(in[0], in[1], in[2]);
  };
  const auto without_bias = [](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1]); };
  const auto transposed_input = [](const std::vector<Tensor>& in) {
    return ops::linear(ops::transpose(in[0], 0, 1), in[1], in[2]);
  };
  for (const Shape& shape : {Shape{6}, Shape{3, 6}, Shape{2, 3, 6}}) {
    SCOPED_TRACE(shape_str(shape));
    EXPECT_GRADCHECK(with_bias,
                     {random_leaf(shape, 1), random_leaf({4, 6}, 2), random_leaf({4}, 3)});
    EXPECT_GRADCHECK(without_bias, {random_leaf(shape, 4), random_leaf({1, 6}, 5)});
  }
  EXPECT_GRADCHECK(transposed_input,
                   {random_leaf({6, 3}, 6), random_leaf({4, 6}, 7), random_leaf({4}, 8)});
}

TEST(LinearTest, Errors) {
  EXPECT_ERROR_CONTAINS(ops::linear(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})),
                        "linear: input of shape [2,3] does not match weight of shape [4,5]");
  EXPECT_ERROR_CONTAINS(ops::linear(Tensor::zeros({2, 3}), Tensor::zeros({3})),
                        "linear: weight of shape [3] is not (out, in)");
  EXPECT_ERROR_CONTAINS(
      ops::linear(Tensor::zeros({2, 3}), Tensor::zeros({4, 3}), Tensor::zeros({3})),
      "linear: bias of shape [3] does not match weight of shape [4,3] (expected [4])");
}

}  // namespace
}  // namespace repflow
