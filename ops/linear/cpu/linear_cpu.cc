#include <cblas.h>

#include <algorithm>
#include <atomic>

#include "framework/parallel.h"
#include "ops/linear/linear_kernels.h"

namespace repflow::ops {
namespace {

// Products up to this many multiply-adds gain little from OpenBLAS's own threads, so a batch of
// them runs one single-threaded GEMM per pool task; larger ones run one after another, each
// over OpenBLAS's threads.
constexpr int64_t kSmallGemm = int64_t{1} << 18;

// OpenBLAS's thread count is process-wide and setting it is not free, so it is changed only
// when the wanted count differs from the last one set.
void use_blas_threads(int n) {
  static std::atomic<int> current{-1};
  if (current.exchange(n) != n) openblas_set_num_threads(n);
}

void gemm_one(int m, int n, int k, const GemmOperand& a, const float* pa, const GemmOperand& b,
              const float* pb, float beta, float* c) {
  cblas_sgemm(CblasRowMajor, a.trans ? CblasTrans : CblasNoTrans,
              b.trans ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, pa, static_cast<int>(a.ld), pb,
              static_cast<int>(b.ld), beta, c, n);
}

}  // namespace

void gemm_cpu(int64_t batch, int64_t m, int64_t n, int64_t k, const GemmOperand& a,
              const GemmOperand& b, float beta, float* c) {
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
  auto run = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      gemm_one(mi, ni, ki, a, a.data + a.batch.offset(i), b, b.data + b.batch.offset(i), beta,
               c + i * m * n);
  };
  const int64_t work = m * n * k;
  if (batch > 1 && work <= kSmallGemm && num_threads() > 1) {
    use_blas_threads(1);
    parallel_for(0, batch, std::max<int64_t>(1, kSmallGemm / work), run);
  } else {
    use_blas_threads(num_threads());
    run(0, batch);
  }
}

}  // namespace repflow::ops
