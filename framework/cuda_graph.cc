#include "framework/cuda_graph.h"

#include <string>

#include "framework/allocator.h"
#include "framework/error.h"

#if REPFLOW_WITH_CUDA
#include <cstring>
#include <mutex>
#include <vector>

#include "framework/cuda_context.h"
#endif

namespace repflow {

#if REPFLOW_WITH_CUDA

namespace {

constexpr int kMaxDevices = 64;

// The pinned copies of the graph recording on each device, if one is.
struct Staging {
  std::mutex mu;
  bool recording = false;
  std::vector<void*> pinned;
};

Staging& staging(int device) {
  RF_CHECK(device >= 0 && device < kMaxDevices, "cuda graph: device index ", device,
           " out of range");
  static Staging s[kMaxDevices];
  return s[device];
}

void free_pinned(const std::vector<void*>& pinned) {
  // A destructor's path: a failing free has nobody to report to.
  for (void* p : pinned) cudaFreeHost(p);
}

}  // namespace

struct CudaGraph::Recorded {
  int device = 0;
  int pool = 0;
  cudaGraphExec_t exec = nullptr;
  std::vector<void*> pinned;
};

bool copy_host_to_device(void* dst, const void* host, size_t bytes, int device) {
  Staging& s = staging(device);
  std::lock_guard<std::mutex> lock(s.mu);
  if (bytes == 0) return s.recording;
  const void* src = host;
  if (s.recording) {
    void* pinned = nullptr;
    RF_CUDA_CHECK(cudaMallocHost(&pinned, bytes));
    s.pinned.push_back(pinned);
    std::memcpy(pinned, host, bytes);
    src = pinned;
  }
  RF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cuda_stream(device)));
  return s.recording;
}

CudaGraph::CudaGraph(Device device, const std::function<void()>& step)
    : recorded_(std::make_unique<Recorded>()) {
  RF_CHECK(device.is_cuda(), "cuda graph: records the work of a CUDA device, not ", device.str());
  Recorded& r = *recorded_;
  r.device = device.index;
  CudaDeviceGuard guard(r.device);
  const cudaStream_t stream = cuda_stream(r.device);
  Staging& s = staging(r.device);
  r.pool = begin_graph_pool(r.device);
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.recording = true;
  }
  // Relaxed: the step's own thread may still allocate (cudaMalloc, cudaMallocHost) while it
  // records; work queued on other streams or a wait for the device ends the recording instead.
  cudaError_t begun = cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed);
  std::string failure;
  if (begun == cudaSuccess) {
    try {
      step();
    } catch (const std::exception& e) {
      failure = e.what();
    }
  } else {
    failure = std::string("cudaStreamBeginCapture: ") + cudaGetErrorString(begun);
  }
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = begun == cudaSuccess ? cudaStreamEndCapture(stream, &graph)
                                                 : cudaErrorStreamCaptureInvalidated;
  if (failure.empty() && ended != cudaSuccess)
    failure = std::string("cudaStreamEndCapture: ") + cudaGetErrorString(ended);
  cudaError_t instantiated = cudaSuccess;
  if (failure.empty()) {
    instantiated = cudaGraphInstantiate(&r.exec, graph, 0);
    if (instantiated != cudaSuccess)
      failure = std::string("cudaGraphInstantiate: ") + cudaGetErrorString(instantiated);
  }
  if (graph) cudaGraphDestroy(graph);
  end_graph_pool(r.device);
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.recording = false;
    r.pinned.swap(s.pinned);
  }
  if (failure.empty()) return;
  // Nothing recorded will run: the pool's memory and the staged copies can go at once. A failed
  // recording leaves its error as the thread's last one; clear it so later calls do not see it.
  cudaGetLastError();
  release_graph_pool(r.device, r.pool);
  free_pinned(r.pinned);
  r.pinned.clear();
  RF_FAIL("cuda graph: the step could not be recorded on ", device.str(), ": ", failure,
          " (a step that reads values back to the host runs only eagerly)");
}

CudaGraph::~CudaGraph() {
  if (!recorded_ || !recorded_->exec) return;
  Recorded& r = *recorded_;
  // Nothing here may throw, not even after a device fault (this may run while an error unwinds
  // the stack), so the device is switched by hand rather than by a CudaDeviceGuard.
  int previous = 0;
  const bool switched = cudaGetDevice(&previous) == cudaSuccess && previous != r.device &&
                        cudaSetDevice(r.device) == cudaSuccess;
  // Replays may still be queued: they read the pinned copies and the pool's blocks.
  cudaStreamSynchronize(cuda_stream(r.device));
  cudaGraphExecDestroy(r.exec);
  free_pinned(r.pinned);
  release_graph_pool(r.device, r.pool);
  if (switched) cudaSetDevice(previous);
}

void CudaGraph::replay() const {
  CudaDeviceGuard guard(recorded_->device);
  RF_CUDA_CHECK(cudaGraphLaunch(recorded_->exec, cuda_stream(recorded_->device)));
}

#else

struct CudaGraph::Recorded {};

CudaGraph::CudaGraph(Device device, const std::function<void()>&) {
  RF_FAIL("cuda graph: records the work of a CUDA device, and this build has none (asked for ",
          device.str(), ")");
}

CudaGraph::~CudaGraph() = default;

void CudaGraph::replay() const { RF_FAIL("cuda graph: this build has no CUDA backend"); }

#endif

}  // namespace repflow
