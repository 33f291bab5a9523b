#pragma once
// Which schedule runs an op: a DispatchStub holds an op's CPU schedules, one per CPU
// instruction set it was compiled for, and its CUDA schedule, and calls the one for the
// tensors' device and the CPU it runs on (PyTorch's DispatchStub idea, without registration at
// static-initialisation time: each family's stubs are defined next to its autograd wiring, so
// a reader finds every schedule an op has in one place).
//
// Convention: a CUDA schedule takes the CUDA device index first and otherwise the CPU
// schedule's arguments. In a build without nvcc the CUDA side is empty (RF_CUDA_SCHEDULE) and
// calling it is an Error saying so.
#include <array>

#include "framework/device.h"
#include "framework/error.h"

namespace repflow::ops {

// CPU instruction sets a schedule may be compiled for, narrowest first. kBaseline is what the
// build's -march gives every binary.
enum class CpuIsa { kBaseline = 0, kAvx2 = 1, kAvx512 = 2 };
constexpr int kCpuIsaCount = 3;

// The widest instruction set this CPU runs, capped by set_cpu_isa_limit.
CpuIsa cpu_isa();
// Caps cpu_isa() (tests run every compiled width on one machine); returns the previous cap.
CpuIsa set_cpu_isa_limit(CpuIsa limit);

template <class Signature>
class DispatchStub;

template <class R, class... Args>
class DispatchStub<R(Args...)> {
 public:
  using CpuFn = R (*)(Args...);
  using CudaFn = R (*)(int, Args...);

  // `name` is what errors call the op.
  constexpr DispatchStub(const char* name, CpuFn cpu, CudaFn cuda)
      : name_(name), cpu_{cpu, nullptr, nullptr}, cuda_(cuda) {}
  // The same with a schedule per wider instruction set (nullptr where there is none).
  constexpr DispatchStub(const char* name, std::array<CpuFn, kCpuIsaCount> cpu, CudaFn cuda)
      : name_(name), cpu_(cpu), cuda_(cuda) {}

  R operator()(const Device& device, Args... args) const {
    if (device.is_cuda()) {
      RF_CHECK(cuda_ != nullptr, name_,
               ": this build has no CUDA backend (nvcc was not found at build time)");
      return cuda_(device.index, args...);
    }
    return cpu_schedule()(args...);
  }

  // The CPU schedule for the widest instruction set this CPU runs that has one.
  CpuFn cpu_schedule() const {
    for (int isa = static_cast<int>(cpu_isa()); isa > 0; --isa)
      if (cpu_[isa]) return cpu_[isa];
    return cpu_[0];
  }

 private:
  const char* name_;
  std::array<CpuFn, kCpuIsaCount> cpu_;
  CudaFn cuda_;
};

}  // namespace repflow::ops

// A CUDA schedule for a DispatchStub: the function in a CUDA build, none otherwise (its
// declaration is compiled only with REPFLOW_WITH_CUDA).
#if REPFLOW_WITH_CUDA
#define RF_CUDA_SCHEDULE(fn) (&fn)
#else
#define RF_CUDA_SCHEDULE(fn) nullptr
#endif
