#pragma once
// Entry points of the GEMM schedules (OpenBLAS on the CPU, cuBLAS on the GPU). ops/linear/linear.cc
// describes each operand by where its matrices start and how BLAS should read them, so that
// transposed views and broadcast batch dimensions reach BLAS without copies.
#include <cstdint>

#include "framework/layout.h"

namespace repflow::ops {

// Matrix `i` of a batch starts at data + batch.offset(i) (batch has the output's batch sizes,
// stride 0 along broadcast dimensions) and is stored row-major with leading dimension ld, or,
// when `trans` is set, column-major (a row-major transposed view) with leading dimension ld.
struct GemmOperand {
  const float* data = nullptr;
  StridedLayout batch;
  bool trans = false;
  int64_t ld = 1;
};

// For each of the `batch` products: c[i] = a[i] (m x k) * b[i] (k x n) + beta * c[i], with c
// contiguous (matrix i at c + i * m * n). batch, m, n and k are positive and fit an int.
void gemm_cpu(int64_t batch, int64_t m, int64_t n, int64_t k, const GemmOperand& a,
              const GemmOperand& b, float beta, float* c);

#if REPFLOW_WITH_CUDA
void gemm_cuda(int device, int64_t batch, int64_t m, int64_t n, int64_t k, const GemmOperand& a,
               const GemmOperand& b, float beta, float* c);
#endif

}  // namespace repflow::ops
