#pragma once
// Status checks for every CUDA, cuDNN and cuBLAS call: a failure becomes a repflow::Error
// naming the call, the library's own message and the source line.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "framework/error.h"

#define RF_CUDA_CHECK(expr)                                                                  \
  do {                                                                                       \
    const cudaError_t rf_err_ = (expr);                                                      \
    if (rf_err_ != cudaSuccess)                                                              \
      RF_FAIL(#expr, ": ", cudaGetErrorString(rf_err_), " (", __FILE__, ":", __LINE__, ")"); \
  } while (0)

#define RF_CUDNN_CHECK(expr)                                                                  \
  do {                                                                                        \
    const cudnnStatus_t rf_err_ = (expr);                                                     \
    if (rf_err_ != CUDNN_STATUS_SUCCESS)                                                      \
      RF_FAIL(#expr, ": ", cudnnGetErrorString(rf_err_), " (", __FILE__, ":", __LINE__, ")"); \
  } while (0)

#define RF_CUBLAS_CHECK(expr)                                                                   \
  do {                                                                                          \
    const cublasStatus_t rf_err_ = (expr);                                                      \
    if (rf_err_ != CUBLAS_STATUS_SUCCESS)                                                       \
      RF_FAIL(#expr, ": ", cublasGetStatusString(rf_err_), " (", __FILE__, ":", __LINE__, ")"); \
  } while (0)

// After a kernel launch: catches bad launch configurations at once.
#define RF_CUDA_LAUNCH_CHECK() RF_CUDA_CHECK(cudaGetLastError())
