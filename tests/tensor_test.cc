#include "framework/tensor.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>

#include "framework/allocator.h"
#include "framework/parallel.h"
#include "framework/sanitizer.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

TEST(Tensor, FactoriesShapesAndStrides) {
  const Tensor z = Tensor::zeros({2, 3, 4});
  EXPECT_EQ(z.dim(), 3);
  EXPECT_EQ(z.numel(), 24);
  EXPECT_EQ(z.strides(), (Shape{12, 4, 1}));
  EXPECT_TRUE(z.is_contiguous());
  EXPECT_EQ(z.size(-1), 4);
  EXPECT_EQ(Tensor::ones({3}).to_vector(), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(Tensor::full({2}, 2.5f).to_vector(), (std::vector<float>{2.5f, 2.5f}));
  EXPECT_EQ(Tensor::scalar(4).item(), 4.0f);
  EXPECT_EQ(Tensor::scalar(4).dim(), 0);
  EXPECT_EQ(Tensor::arange(0, 1, 0.25f).to_vector(), (std::vector<float>{0, 0.25f, 0.5f, 0.75f}));
  EXPECT_EQ(Tensor::arange(3, 0, -1).to_vector(), (std::vector<float>{3, 2, 1}));
  EXPECT_EQ(Tensor::zeros({0, 5}).numel(), 0);
}

TEST(Tensor, RankUpToEight) {
  const Tensor t = Tensor::zeros({1, 2, 1, 2, 1, 2, 1, 2});
  EXPECT_EQ(t.numel(), 16);
  EXPECT_ERROR_CONTAINS(Tensor::zeros({1, 1, 1, 1, 1, 1, 1, 1, 1}), "more than 8 dimensions");
}

TEST(Tensor, ViewsShareStorageAndContiguousCopies) {
  const Tensor x = Tensor::arange(0, 6);
  // A transposed 2x3 view: strides (1, 2) over the same storage.
  const Tensor v = x.as_strided({3, 2}, {1, 3}, 0);
  EXPECT_EQ(v.storage(), x.storage());
  EXPECT_FALSE(v.is_contiguous());
  const Tensor c = v.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_NE(c.storage(), x.storage());
  EXPECT_EQ(c.to_vector(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(v.at({2, 1}), 5.0f);
  const Tensor offset_view = x.as_strided({2}, {2}, 1);
  EXPECT_EQ(offset_view.to_vector(), (std::vector<float>{1, 3}));
}

// Strided copies in both directions (a permuted source; a strided destination with a zero
// stride in the source), large enough to be split over threads, checked element by element.
TEST(Tensor, StridedCopiesMatchElementwiseIndexing) {
  const Tensor x = Tensor::arange(0, 3 * 5 * 7 * 11 * 13)
                       .as_strided({3, 5, 7, 11, 13}, {5005, 1001, 143, 13, 1}, 0);
  const Tensor p = x.as_strided({5, 13, 3, 11, 7}, {1001, 1, 5005, 13, 143}, 0);
  const Tensor c = p.contiguous();
  for (int64_t a = 0; a < 5; ++a)
    for (int64_t b = 0; b < 13; ++b)
      for (int64_t d = 0; d < 11; ++d) EXPECT_EQ(c.at({a, b, 2, d, 6}), x.at({2, a, 6, d, b}));
  Tensor wide = Tensor::zeros({4, 9, 2});
  Tensor dst = wide.as_strided({4, 9}, {18, 2}, 1);
  dst.copy_(Tensor::arange(0, 9).as_strided({4, 9}, {0, 1}, 0));
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 9; ++j) {
      EXPECT_EQ(wide.at({i, j, 1}), static_cast<float>(j));
      EXPECT_EQ(wide.at({i, j, 0}), 0.0f);
    }
}

TEST(Tensor, InPlaceCopyFillAdd) {
  Tensor x = Tensor::zeros({2, 3});
  x.copy_(Tensor::arange(0, 6).as_strided({2, 3}, {3, 1}, 0));
  x.add_(Tensor::ones({2, 3}), 2.0f);
  EXPECT_EQ(x.to_vector(), (std::vector<float>{2, 3, 4, 5, 6, 7}));
  x.fill_(1.5f);
  EXPECT_EQ(x.at({1, 2}), 1.5f);
  EXPECT_ERROR_CONTAINS(x.copy_(Tensor::zeros({3})), "copy_: source shape [3] differs");
}

TEST(Tensor, SeededGeneratorsRepeatAndAdvance) {
  Generator a(42), b(42), c(43);
  const std::vector<float> u1 = Tensor::uniform({1000}, -1, 1, a).to_vector();
  const std::vector<float> u2 = Tensor::uniform({1000}, -1, 1, b).to_vector();
  const std::vector<float> u3 = Tensor::uniform({1000}, -1, 1, c).to_vector();
  EXPECT_EQ(u1, u2);
  EXPECT_NE(u1, u3);
  EXPECT_NE(Tensor::uniform({1000}, -1, 1, a).to_vector(), u1) << "next draw must differ";
  double mean = 0;
  for (float v : u1) {
    EXPECT_GE(v, -1.0f);
    EXPECT_LT(v, 1.0f);
    mean += v / 1000.0;
  }
  EXPECT_NEAR(mean, 0.0, 0.1);
  Generator g(7);
  const std::vector<float> n = Tensor::normal({20000}, 1.0f, 2.0f, g).to_vector();
  double m = 0, v = 0;
  for (float x : n) m += x / n.size();
  for (float x : n) v += (x - m) * (x - m) / n.size();
  EXPECT_NEAR(m, 1.0, 0.05);
  EXPECT_NEAR(std::sqrt(v), 2.0, 0.05);
}

TEST(Tensor, PrintingShowsValuesShapeDevice) {
  const std::string s = Tensor::arange(0, 4).as_strided({2, 2}, {2, 1}, 0).str();
  EXPECT_NE(s.find("[[0, 1],\n [2, 3]]"), std::string::npos) << s;
  EXPECT_NE(s.find("shape=[2,2], device=cpu"), std::string::npos) << s;
  const std::string big = Tensor::arange(0, 100).str();
  EXPECT_NE(big.find("..."), std::string::npos) << big;
}

TEST(Tensor, ErrorsOnBadAccess) {
  const Tensor x = Tensor::zeros({2, 3});
  EXPECT_ERROR_CONTAINS(x.item(), "item: tensor of shape [2,3] has 6 elements");
  EXPECT_ERROR_CONTAINS(x.at({2, 0}), "at: index [2,0] out of range for shape [2,3]");
  EXPECT_ERROR_CONTAINS(x.size(2), "size: dimension 2 out of range");
  EXPECT_ERROR_CONTAINS(Tensor::from_vector({2, 2}, {1, 2, 3}), "needs 4 values, got 3");
  EXPECT_ERROR_CONTAINS(Tensor::zeros({-1}), "negative size");
  // Shapes whose element count overflows 64 bits (or comes near it) never reach the allocator.
  EXPECT_ERROR_CONTAINS(Tensor::zeros({int64_t{1} << 32, int64_t{1} << 32}),
                        "empty: shape [4294967296,4294967296] has sizes whose product is above "
                        "1152921504606846976");
  EXPECT_ERROR_CONTAINS(Tensor::zeros({3, int64_t{1} << 62, 4}), "whose product is above");
  // Empty, but its strides would overflow (a fuzzed weight file).
  EXPECT_ERROR_CONTAINS(Tensor::zeros({0, 36666666, 666666630854}), "whose product is above");
  EXPECT_ERROR_CONTAINS(Tensor().shape(), "undefined tensor");
}

TEST(Allocator, HostStatsTrackInUseAndPeak) {
  reset_peak(Device::cpu());
  const size_t before = allocator_stats(Device::cpu()).in_use;
  {
    const Tensor t = Tensor::empty({1000});
    EXPECT_EQ(allocator_stats(Device::cpu()).in_use, before + 4000);
  }
  EXPECT_EQ(allocator_stats(Device::cpu()).in_use, before);
  EXPECT_GE(allocator_stats(Device::cpu()).peak, before + 4000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(Tensor::empty({3}).data()) % 64, 0u);
}

TEST(Allocator, LargeHostBlocksAreCachedAndReused) {
  if (kAddressSanitizer) GTEST_SKIP() << "the host allocator keeps no cache under ASan";
  host_empty_cache();
  EXPECT_EQ(allocator_stats(Device::cpu()).cached, 0u);
  float* first;
  {
    const Tensor t = Tensor::empty({1 << 20});  // 4 MB
    first = t.data();
  }
  const size_t cached = allocator_stats(Device::cpu()).cached;
  EXPECT_GE(cached, size_t{4} << 20);
  {
    const Tensor again = Tensor::empty({(1 << 20) - 100});  // a little smaller: same block
    EXPECT_EQ(again.data(), first);
    EXPECT_EQ(allocator_stats(Device::cpu()).cached, cached - (size_t{4} << 20));
    const Tensor bigger = Tensor::empty({3 << 20});  // too big for it: fresh memory
    EXPECT_NE(bigger.data(), first);
  }
  host_empty_cache();
  EXPECT_EQ(allocator_stats(Device::cpu()).cached, 0u);
}

TEST(Device, ParsingAndAvailability) {
  EXPECT_EQ(parse_device("cpu"), Device::cpu());
  EXPECT_EQ(parse_device("auto"), cuda_device_count() > 0 ? Device::cuda(0) : Device::cpu());
  EXPECT_ERROR_CONTAINS(parse_device("tpu"), "device: 'tpu' is not one of auto, cpu, cuda, cuda:N");
  // Indices past what an int holds once wrapped, cuda:4294967296 to GPU 0.
  for (const char* bad : {"cuda:x", "cuda:-1", "cuda:+1", "cuda: 1", "cuda:1 ", "cuda:4294967296",
                          "cuda:99999999999999999999"})
    EXPECT_ERROR_CONTAINS(parse_device(bad),
                          std::string("device: '") + bad + "' has a bad GPU index");
  if (cuda_device_count() == 0) {
    EXPECT_THROW(parse_device("cuda"), Error);
  }
  EXPECT_EQ(Device::cuda(1).str(), "cuda:1");
}

TEST(ParallelFor, CoversRangeOnceNestsAndPropagatesErrors) {
  std::vector<std::atomic<int>> hits(10007);
  parallel_for(0, 10007, 100, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hits[i]++;
    parallel_for(0, 3, 1, [](int64_t, int64_t) {});  // nested regions run inline
  });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  EXPECT_ERROR_CONTAINS(parallel_for(0, 100, 1,
                                     [](int64_t b, int64_t e) {
                                       if (b < 100 && e == 100) RF_FAIL("chunk failed");
                                     }),
                        "chunk failed");
  const int n = num_threads();
  set_num_threads(3);
  EXPECT_EQ(num_threads(), 3);
  std::atomic<int64_t> total{0};
  parallel_for(0, 1000, 1, [&](int64_t b, int64_t e) { total += e - b; });
  EXPECT_EQ(total.load(), 1000);
  set_num_threads(n);
  EXPECT_ERROR_CONTAINS(set_num_threads(0), "set_num_threads: 0 is not between 1 and 1024");
}

// A child forked after the parent's loops ran on OpenMP's threads (as a test's child that saves
// under a file-size limit is) computes on its one thread instead of waiting for threads it does
// not have. The alarm turns such a wait into a failure instead of a hang.
TEST(ParallelFor, AChildForkedAfterParallelLoopsStillComputes) {
  const int n = num_threads();
  set_num_threads(2);
  std::atomic<int64_t> total{0};
  parallel_for(0, 1000, 1, [&](int64_t b, int64_t e) { total += e - b; });
  ASSERT_EQ(total.load(), 1000);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    alarm(20);
    std::atomic<int64_t> sum{0};
    parallel_for(0, 1000, 1, [&](int64_t b, int64_t e) { sum += e - b; });
    _exit(sum.load() == 1000 && num_threads() == 1 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  EXPECT_EQ(num_threads(), 2);
  set_num_threads(n);
}

}  // namespace
}  // namespace repflow
