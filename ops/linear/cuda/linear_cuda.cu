#include "framework/cuda_context.h"
#include "ops/linear/linear_kernels.h"
#include "ops/op_common.h"

namespace repflow::ops {

// cuBLAS is column-major: the row-major product C = A B is the column-major C^T = B^T A^T, so
// the operands swap places and each keeps its own transposition flag and leading dimension.
void gemm_cuda(int device, int64_t batch, int64_t m, int64_t n, int64_t k, const GemmOperand& a,
               const GemmOperand& b, float beta, float* c) {
  CudaDeviceGuard guard(device);
  cublasHandle_t handle = cublas_handle(device);
  // Batch dimensions that step evenly in all three operands merge, so that usually one strided
  // batched call covers the whole batch; any others are looped over here.
  StridedLayout la = a.batch, lb = b.batch, lc = a.batch;
  int64_t stride = m * n;
  for (int d = lc.ndim - 1; d >= 0; --d) {
    lc.strides[d] = stride;
    stride *= lc.sizes[d];
  }
  coalesce({&la, &lb, &lc});
  const int last = la.ndim - 1;
  const int64_t inner = last >= 0 ? la.sizes[last] : 1;
  StridedLayout pa = la, pb = lb, pc = lc;
  pa.ndim = pb.ndim = pc.ndim = last >= 0 ? last : 0;
  const float alpha = 1.0f;
  const cublasOperation_t op_a = a.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = b.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
  for (int64_t j = 0; j < batch / inner; ++j) {
    const float* A = a.data + pa.offset(j);
    const float* B = b.data + pb.offset(j);
    float* C = c + pc.offset(j);
    if (inner == 1) {
      RF_CUBLAS_CHECK(cublasSgemm(handle, op_b, op_a, ni, mi, ki, &alpha, B, static_cast<int>(b.ld),
                                  A, static_cast<int>(a.ld), &beta, C, ni));
    } else {
      RF_CUBLAS_CHECK(cublasSgemmStridedBatched(handle, op_b, op_a, ni, mi, ki, &alpha, B,
                                                static_cast<int>(b.ld), lb.strides[last], A,
                                                static_cast<int>(a.ld), la.strides[last], &beta, C,
                                                ni, lc.strides[last], static_cast<int>(inner)));
    }
  }
}

}  // namespace repflow::ops
