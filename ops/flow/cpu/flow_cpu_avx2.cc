// The CPU sweeps eight pixels at a time, compiled for AVX2 and FMA (see ops/BUILD); flow_cpu.cc
// calls them only on CPUs that have both.
#include "ops/flow/cpu/flow_cpu_sweeps.h"

namespace repflow::ops {

FlowCpuSweeps flow_cpu_sweeps_avx2() { return sweeps_of<Lanes<8>>(); }

}  // namespace repflow::ops
