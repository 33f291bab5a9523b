#pragma once
// CUDA graphs: a step of fixed shapes (a training step's forward, backward and update) recorded
// once from the device's stream and then replayed with one launch, which takes the host's
// per-kernel launch work, hundreds of launches a step, off the critical path.
//
// Recording runs the step's host code, so the autograd graph, the cuDNN descriptors and the
// algorithm caches are made as usual, but its device work is recorded, not run. The recorded
// kernels keep the addresses and scalar arguments of that one call: replays compute on the same
// tensors with the same constants, so the caller
//  - fills the step's inputs in place (Tensor::copy_) before each replay;
//  - keeps every tensor made before recording that the step reads (parameters, optimiser and
//    averaging state, batch-norm buffers, the inputs) alive and in place while the graph lives;
//  - records steps whose constants do not change (a fixed learning rate, no dropout), because a
//    replay does not run the host code that would change them.
// A step that reads values back to the host (Tensor::item, to_vector, synchronize) cannot be
// recorded; the constructor then throws an Error naming what stopped it, and the device stays
// usable. Tensors the step makes come from a pool of the graph's own (framework/allocator.h) and
// stay valid between replays, so outputs such as the loss are read after each replay from the
// tensors recording returned.
#include <functional>
#include <memory>

#include "framework/device.h"

namespace repflow {

class CudaGraph {
 public:
  // Records step() on `device`'s stream. A CPU device or a build without CUDA is an Error.
  CudaGraph(Device device, const std::function<void()>& step);
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Queues one run of the recorded work on the device's stream.
  void replay() const;

 private:
  struct Recorded;
  std::unique_ptr<Recorded> recorded_;
};

#if REPFLOW_WITH_CUDA
// Copies `bytes` of host memory to device memory on `device`'s stream; `host` may be reused as
// soon as it returns. While a graph records, the bytes are staged in pinned memory the graph
// keeps, so that every replay copies them again (a copy from pageable memory cannot be
// recorded). Returns whether a graph was recording the stream: it must not be waited for then.
bool copy_host_to_device(void* dst, const void* host, size_t bytes, int device);
#endif

}  // namespace repflow
