#pragma once
// The few kernels the framework itself needs (factories, copies, gradient accumulation), as
// raw-pointer entry points so that the CUDA half depends on nothing above framework:base.
#include <cstdint>

#include "framework/layout.h"
#include "framework/random_math.h"

namespace repflow::kernels {

void fill_cpu(float* dst, int64_t n, float value);
// dst[dst_layout.offset(i)] = src[src_layout.offset(i)] for i < n; both layouts share sizes.
void copy_cpu(float* dst, const StridedLayout& dst_layout, const float* src,
              const StridedLayout& src_layout, int64_t n);
void random_cpu(float* dst, int64_t n, RandomDist dist, float a, float b, uint64_t seed,
                uint64_t offset);
// dst += alpha * src, both contiguous.
void axpy_cpu(float* dst, const float* src, float alpha, int64_t n);

#if REPFLOW_WITH_CUDA
void fill_cuda(int device, float* dst, int64_t n, float value);
void copy_cuda(int device, float* dst, const StridedLayout& dst_layout, const float* src,
               const StridedLayout& src_layout, int64_t n);
void random_cuda(int device, float* dst, int64_t n, RandomDist dist, float a, float b,
                 uint64_t seed, uint64_t offset);
void axpy_cuda(int device, float* dst, const float* src, float alpha, int64_t n);
// Contiguous copies between host and device memory; waits for the copy to finish.
void memcpy_to_device(int device, float* dst, const float* src, int64_t n);
void memcpy_to_host(int device, float* dst, const float* src, int64_t n);
void memcpy_device_to_device(int dst_device, float* dst, int src_device, const float* src,
                             int64_t n);
#endif

}  // namespace repflow::kernels
