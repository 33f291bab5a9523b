#pragma once
// Marks the per-element math shared by the CPU and CUDA schedules: the same inline function is
// compiled for host and device under nvcc, and as plain C++ otherwise.
#if defined(__CUDACC__)
#define RF_HD __host__ __device__ __forceinline__
#else
#define RF_HD inline
#endif
