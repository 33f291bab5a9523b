#include "tools/kernel_times.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "framework/error.h"

#if REPFLOW_WITH_CUPTI
#include <cupti.h>
#include <cxxabi.h>

#include <cstdlib>
#include <mutex>

#include "framework/cuda_context.h"
#endif

namespace repflow {

#if REPFLOW_WITH_CUPTI
namespace {

// Each buffer holds some 40,000 kernel records; a training step launches a few thousand.
constexpr size_t kBufferBytes = size_t{8} << 20;
constexpr size_t kBufferAlign = 8;  // CUPTI's requirement
constexpr CUpti_ActivityKind kKinds[] = {CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL,
                                         CUPTI_ACTIVITY_KIND_MEMCPY, CUPTI_ACTIVITY_KIND_MEMSET};

std::mutex g_mu;
std::vector<KernelRecord>* g_records = nullptr;  // where completed buffers go, while tracing

std::string demangled(const char* name) {
  if (!name) return "?";
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = status == 0 && d ? d : name;
  std::free(d);
  return out;
}

const char* copy_name(uint8_t kind) {
  switch (kind) {
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD:
      return "memcpy HtoD";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH:
      return "memcpy DtoH";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD:
      return "memcpy DtoD";
    default:
      return "memcpy";
  }
}

double ms_between(uint64_t start_ns, uint64_t end_ns) {
  return end_ns > start_ns ? static_cast<double>(end_ns - start_ns) / 1e6 : 0.0;
}

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(kBufferAlign, kBufferBytes));
  *size = *buffer ? kBufferBytes : 0;
  *max_records = 0;  // as many as fit
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    CUpti_Activity* record = nullptr;
    while (g_records && cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
      if (record->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) {
        const auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(record);
        g_records->push_back({demangled(k->name), ms_between(k->start, k->end)});
      } else if (record->kind == CUPTI_ACTIVITY_KIND_MEMCPY) {
        const auto* m = reinterpret_cast<const CUpti_ActivityMemcpy6*>(record);
        g_records->push_back({copy_name(m->copyKind), ms_between(m->start, m->end)});
      } else if (record->kind == CUPTI_ACTIVITY_KIND_MEMSET) {
        const auto* m = reinterpret_cast<const CUpti_ActivityMemset4*>(record);
        g_records->push_back({"memset", ms_between(m->start, m->end)});
      }
    }
  }
  std::free(buffer);
}

void check_cupti(CUptiResult result, const char* call) {
  if (result == CUPTI_SUCCESS) return;
  const char* message = nullptr;
  cuptiGetResultString(result, &message);
  RF_FAIL("kernel times: ", call, " failed: ", message ? message : "unknown CUPTI error");
}

// Tracing from construction to destruction, which hands the last buffers over and stops it.
class Tracing {
 public:
  explicit Tracing(std::vector<KernelRecord>* records) {
    static std::once_flag registered;
    std::call_once(registered, [] {
      check_cupti(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed),
                  "cuptiActivityRegisterCallbacks");
    });
    {
      std::lock_guard<std::mutex> lock(g_mu);
      RF_CHECK(!g_records, "kernel times: another trace is running (one at a time per process)");
      g_records = records;
    }
    for (CUpti_ActivityKind kind : kKinds) {
      const CUptiResult r = cuptiActivityEnable(kind);
      if (r != CUPTI_SUCCESS) {
        stop();
        check_cupti(r, "cuptiActivityEnable");
      }
      ++enabled_;
    }
  }
  ~Tracing() { stop(); }
  Tracing(const Tracing&) = delete;
  Tracing& operator=(const Tracing&) = delete;

 private:
  void stop() {
    // Forced: buffers with records still open are handed over too, rather than held back into
    // the next trace. Calls buffer_completed for each.
    cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    for (int k = 0; k < enabled_; ++k) cuptiActivityDisable(kKinds[k]);
    enabled_ = 0;
    std::lock_guard<std::mutex> lock(g_mu);
    g_records = nullptr;
  }
  int enabled_ = 0;
};

}  // namespace

std::vector<KernelRecord> trace_gpu_activity(const Device& device,
                                             const std::function<void()>& work) {
  RF_CHECK(device.is_cuda(), "kernel times: traces a GPU's work, not ", device.str());
  // Every stream of the device: what ran before is not this work's, and all of this work's
  // records must be complete before the flush.
  const auto wait_for_device = [&] {
    CudaDeviceGuard guard(device.index);
    RF_CUDA_CHECK(cudaDeviceSynchronize());
  };
  wait_for_device();
  std::vector<KernelRecord> records;
  {
    Tracing tracing(&records);
    work();
    wait_for_device();
  }
  return records;
}
#else
std::vector<KernelRecord> trace_gpu_activity(const Device& device, const std::function<void()>&) {
  RF_CHECK(device.is_cuda(), "kernel times: traces a GPU's work, not ", device.str());
  RF_FAIL(
      "kernel times: this build has no CUPTI (cupti.h and libcupti were not found with the "
      "CUDA toolkit)");
}
#endif

namespace {

// "void ns::kernel<float, 4>(float const*, int)" -> "ns::kernel<float, 4>". The parameter list
// is the first parenthesis outside template arguments that is not "(anonymous namespace)".
std::string short_name(const std::string& name) {
  const std::string kVoid = "void ", kAnonymous = "(anonymous namespace)";
  std::string s = name.compare(0, kVoid.size(), kVoid) == 0 ? name.substr(kVoid.size()) : name;
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<') ++depth;
    if (s[i] == '>' && depth > 0) --depth;
    if (s[i] != '(' || depth > 0) continue;
    if (s.compare(i, kAnonymous.size(), kAnonymous) == 0) {
      i += kAnonymous.size() - 1;
      continue;
    }
    if (i > 0) return s.substr(0, i);
  }
  return s;
}

}  // namespace

KernelSummary summarize_kernels(const std::vector<KernelRecord>& records) {
  std::map<std::string, KernelRecord> by_name;
  KernelSummary summary;
  for (const KernelRecord& r : records) {
    const std::string name = short_name(r.name);
    const auto it = by_name.try_emplace(name, KernelRecord{name, 0.0, 0}).first;
    it->second.ms += r.ms;
    it->second.calls += r.calls;
    summary.busy_ms += r.ms;
    summary.calls += r.calls;
  }
  for (const auto& [name, total] : by_name) summary.kernels.push_back(total);
  std::stable_sort(summary.kernels.begin(), summary.kernels.end(),
                   [](const KernelRecord& a, const KernelRecord& b) { return a.ms > b.ms; });
  return summary;
}

std::string kernel_table(const std::string& title, const KernelSummary& summary, double wall_ms,
                         int rows) {
  constexpr size_t kNameChars = 100;
  char line[512];
  std::snprintf(line, sizeof line, "%s: %lld launches, GPU busy %.2f ms of %.2f ms wall (%.0f%%)\n",
                title.c_str(), static_cast<long long>(summary.calls), summary.busy_ms, wall_ms,
                wall_ms > 0 ? 100.0 * summary.busy_ms / wall_ms : 0.0);
  std::string out = line;
  out += "      ms      %   calls  kernel\n";
  const int n = std::min<int>(rows, static_cast<int>(summary.kernels.size()));
  for (int k = 0; k < n; ++k) {
    const KernelRecord& r = summary.kernels[k];
    std::string name = r.name;
    if (name.size() > kNameChars) name = name.substr(0, kNameChars - 3) + "...";
    std::snprintf(line, sizeof line, "%8.3f %6.1f %7lld  %s\n", r.ms,
                  summary.busy_ms > 0 ? 100.0 * r.ms / summary.busy_ms : 0.0,
                  static_cast<long long>(r.calls), name.c_str());
    out += line;
  }
  return out;
}

}  // namespace repflow
