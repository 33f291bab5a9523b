#pragma once
// What a GPU spent its time on during one piece of work, for bench_model --kernel-times: every
// kernel, copy and memset it ran, from CUPTI's activity records (the tracing PyTorch's profiler
// uses, which needs no hardware counters), summed by name.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "framework/device.h"

namespace repflow {

// One or more runs of a kernel (or copy, or memset) of one name.
struct KernelRecord {
  std::string name;
  double ms = 0;
  int64_t calls = 1;
};

// Runs `work` with `device`'s activity traced, waits for the device, and returns the records of
// what it ran meanwhile. One trace at a time per process. An Error in a build without CUPTI, on
// the CPU, while another trace runs, or where CUPTI refuses.
std::vector<KernelRecord> trace_gpu_activity(const Device& device,
                                             const std::function<void()>& work);

struct KernelSummary {
  std::vector<KernelRecord> kernels;  // one per name, the longest total first
  double busy_ms = 0;                 // the sum of every record's time
  int64_t calls = 0;
};

// Sums `records` by name (kernel names shortened: no parameter list, no leading "void ").
KernelSummary summarize_kernels(const std::vector<KernelRecord>& records);

// A table of the `rows` longest: total ms, share of the busy time, calls, name; under a line
// with the launches, the busy time and the share of `wall_ms` (the work's wall-clock time) the
// device was busy, which is low where the host's launches cannot keep up.
std::string kernel_table(const std::string& title, const KernelSummary& summary, double wall_ms,
                         int rows);

}  // namespace repflow
