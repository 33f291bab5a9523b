#pragma once
// The CPU backend's parallel loops. They run on OpenMP, the runtime oneDNN's convolutions and
// OpenBLAS (its OpenMP build) run on too, so the process has one set of compute threads rather
// than several sets competing for the cores (docs/design.md, "Threads").
#include <cstdint>
#include <functional>

namespace repflow {

// The CPU kernels' thread count. It defaults to the machine's cores, overridden by the
// REPFLOW_NUM_THREADS environment variable or set_num_threads (the --threads flag); it holds for
// every thread of the process, loader threads included. A child process forked after OpenMP
// started cannot start threads of its own, so there it is 1.
int num_threads();
void set_num_threads(int n);

// Runs fn(chunk_begin, chunk_end) over [begin, end) split into contiguous chunks of at least
// `grain` iterations, one chunk per thread. The chunks depend only on the range, the grain and
// num_threads(), so results are the same from run to run. Calls from inside a chunk run inline,
// so kernels may nest. The first exception thrown by a chunk is rethrown here.
void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn);

}  // namespace repflow
