#include "training/distributed/nccl_communicator.h"

#include <chrono>
#include <cstdio>
#include <thread>

#include "framework/clock.h"
#include "framework/cuda_context.h"
#include "training/distributed/mpi_runtime.h"

#define RF_NCCL_CHECK(expr)                                                                  \
  do {                                                                                       \
    const ncclResult_t rf_err_ = (expr);                                                     \
    if (rf_err_ != ncclSuccess)                                                              \
      RF_FAIL(#expr, ": ", ncclGetErrorString(rf_err_), " (", __FILE__, ":", __LINE__, ")"); \
  } while (0)

namespace repflow {
namespace {

class NcclPending : public PendingCollective {
 public:
  NcclPending(NcclCommunicator* comm, std::string what, Tensor keep)
      : comm_(comm), what_(std::move(what)), keep_(std::move(keep)), start_s_(steady_seconds()) {
    RF_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
  }
  ~NcclPending() override {
    if (done_ == nullptr) return;
    // The buffer must outlive NCCL's use of it, even when an exception abandons the wait.
    if (!finished_) cudaEventSynchronize(done_);
    cudaEventDestroy(done_);
  }
  cudaEvent_t event() const { return done_; }
  bool test() override {
    if (finished_) return true;
    const cudaError_t status = cudaEventQuery(done_);
    if (status == cudaErrorNotReady) return false;
    RF_CUDA_CHECK(status);
    return true;
  }
  void wait() override {
    if (finished_) return;
    comm_->wait_for(done_, start_s_, what_);
    finished_ = true;
  }

 private:
  NcclCommunicator* comm_;
  std::string what_;
  Tensor keep_;
  double start_s_;
  cudaEvent_t done_ = nullptr;
  bool finished_ = false;
};

}  // namespace

NcclCommunicator::NcclCommunicator(std::shared_ptr<MpiCommunicator> mpi, Device device)
    : mpi_(std::move(mpi)), device_(device) {
  RF_CHECK(device.is_cuda(), "distributed: NCCL needs a CUDA device, got ", device.str());
  CudaDeviceGuard guard(device.index);
  ncclUniqueId id;
  if (mpi_->rank() == 0) RF_NCCL_CHECK(ncclGetUniqueId(&id));
  mpi_->broadcast_bytes(&id, sizeof(id), 0, "NCCL unique id broadcast");
  RF_NCCL_CHECK(ncclCommInitRank(&comm_, mpi_->world_size(), id, mpi_->rank()));
  RF_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  RF_CUDA_CHECK(cudaEventCreateWithFlags(&ready_, cudaEventDisableTiming));
}

NcclCommunicator::~NcclCommunicator() {
  CudaDeviceGuard guard(device_.index);
  if (stream_ != nullptr) cudaStreamSynchronize(stream_);
  if (comm_ != nullptr) ncclCommDestroy(comm_);
  if (ready_ != nullptr) cudaEventDestroy(ready_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

void NcclCommunicator::follow_compute_stream() {
  RF_CUDA_CHECK(cudaEventRecord(ready_, cuda_stream(device_.index)));
  RF_CUDA_CHECK(cudaStreamWaitEvent(stream_, ready_, 0));
}

std::unique_ptr<PendingCollective> NcclCommunicator::allreduce_sum_async(const Tensor& t,
                                                                         const std::string& what) {
  check_collective_tensor(*this, t, what);
  CudaDeviceGuard guard(device_.index);
  auto pending = std::make_unique<NcclPending>(this, what, t);
  mpi_->count_collective();
  follow_compute_stream();
  RF_NCCL_CHECK(ncclAllReduce(t.data(), t.data(), static_cast<size_t>(t.numel()), ncclFloat,
                              ncclSum, comm_, stream_));
  RF_CUDA_CHECK(cudaEventRecord(pending->event(), stream_));
  return pending;
}

void NcclCommunicator::broadcast(const Tensor& t, int root, const std::string& what) {
  check_collective_tensor(*this, t, what);
  RF_CHECK(root >= 0 && root < world_size(), "distributed: ", what, ": root ", root,
           " is not a rank of a world of ", world_size());
  CudaDeviceGuard guard(device_.index);
  NcclPending pending(this, what, t);
  mpi_->count_collective();
  follow_compute_stream();
  RF_NCCL_CHECK(ncclBroadcast(t.data(), t.data(), static_cast<size_t>(t.numel()), ncclFloat, root,
                              comm_, stream_));
  RF_CUDA_CHECK(cudaEventRecord(pending.event(), stream_));
  pending.wait();
}

std::vector<double> NcclCommunicator::allreduce_sum(const std::vector<double>& values,
                                                    const std::string& what) {
  return mpi_->allreduce_sum(values, what);
}

void NcclCommunicator::wait_for(cudaEvent_t done, double start_s, const std::string& what) {
  int polls = 0;
  for (;;) {
    const cudaError_t status = cudaEventQuery(done);
    if (status == cudaSuccess) break;
    if (status != cudaErrorNotReady) RF_CUDA_CHECK(status);
    ncclResult_t async_error = ncclSuccess;
    RF_NCCL_CHECK(ncclCommGetAsyncError(comm_, &async_error));
    RF_CHECK(async_error == ncclSuccess || async_error == ncclInProgress, "distributed: ", what,
             ": NCCL failed on rank ", rank(), ": ", ncclGetErrorString(async_error));
    if (steady_seconds() - start_s > mpi_->timeout_s()) {
      // Frees the GPU from the collective that will never complete before the job ends.
      ncclCommAbort(comm_);
      comm_ = nullptr;
      mpi_->timed_out(what);
    }
    if (polls % 64 == 0) mpi_->answer_timeout_reports();
    if (++polls > 200) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  RF_CUDA_CHECK(cudaStreamWaitEvent(cuda_stream(device_.index), done, 0));
}

}  // namespace repflow
