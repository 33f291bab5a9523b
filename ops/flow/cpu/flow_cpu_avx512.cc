// The CPU sweeps sixteen pixels at a time, compiled for AVX-512F (see ops/BUILD); flow_cpu.cc
// calls them only on CPUs that have it.
#include "ops/flow/cpu/flow_cpu_sweeps.h"

namespace repflow::ops {

FlowCpuSweeps flow_cpu_sweeps_avx512() { return sweeps_of<Lanes<16>>(); }

}  // namespace repflow::ops
