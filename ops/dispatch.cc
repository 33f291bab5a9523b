#include "ops/dispatch.h"

#include <atomic>

namespace repflow::ops {
namespace {

CpuIsa detected_isa() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) return CpuIsa::kAvx512;
  // The AVX2 schedules are compiled with -mfma too.
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CpuIsa::kAvx2;
#endif
  return CpuIsa::kBaseline;
}

std::atomic<CpuIsa> g_limit{CpuIsa::kAvx512};

}  // namespace

CpuIsa cpu_isa() {
  static const CpuIsa detected = detected_isa();
  const CpuIsa limit = g_limit.load();
  return static_cast<int>(limit) < static_cast<int>(detected) ? limit : detected;
}

CpuIsa set_cpu_isa_limit(CpuIsa limit) { return g_limit.exchange(limit); }

}  // namespace repflow::ops
