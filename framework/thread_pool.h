#pragma once
#include <cstdint>
#include <functional>

namespace repflow {

// The CPU backend's threads. The count defaults to the machine's cores, overridden by the
// REPFLOW_NUM_THREADS environment variable or set_num_threads (the --threads flag).
int num_threads();
void set_num_threads(int n);

// Runs fn(chunk_begin, chunk_end) over [begin, end) split into contiguous chunks of at least
// `grain` iterations, on the pool and the calling thread. Calls from inside a chunk run inline,
// so kernels may nest. The first exception thrown by a chunk is rethrown here.
void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn);

}  // namespace repflow
