#pragma once
// Batches of clips for the trainer, decoded and augmented on the loader's own worker threads
// (not the compute threads) while the model trains on the previous batches.
//
// Determinism: the epoch's samples and each clip's random crop, flip and offset come from
// training/data/epoch_order.h, and batches are assembled in sample order by one collating thread,
// so the batches are the same for any number of workers and any thread timing.
//
// Bad samples (a Dataset::clip that throws repflow::Error: missing or unreadable frames, empty
// videos): by default next() throws the first one in sample order, naming the file; the workers
// stop, and the loader stays usable (start_epoch begins again). With skip_bad_samples they are
// left out, the batch is filled from the samples after them, and bad_samples() reports them.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "training/data/dataset.h"
#include "training/data/epoch_order.h"

namespace repflow {

// The most decoding threads a loader runs.
constexpr int kMaxLoaderWorkers = 256;

struct LoaderOptions {
  SampleOrder order;
  int64_t batch_size = 8;
  int workers = 2;         // decoding threads, 1 to kMaxLoaderWorkers
  int prefetch = 2;        // batches kept ready ahead of the consumer
  bool drop_last = false;  // leave out a last batch smaller than batch_size
  bool skip_bad_samples = false;
};

struct Batch {
  Tensor clips;                   // (N, 3, T, H, W) float32 on the CPU
  std::vector<int64_t> labels;    // N
  std::vector<int64_t> videos;    // the dataset index of each clip, for video-level averaging
  std::vector<int> clip_indices;  // which clip of its video (evaluation)
  int64_t index = 0;              // the batch's number in its epoch
};

struct BadSample {
  int64_t video = 0;
  std::string name;    // Dataset::video_name
  std::string reason;  // the Error's message
};

class DataLoader {
 public:
  // Errors name a bad option (batch size, workers, prefetch, rank, world size, clips).
  DataLoader(const Dataset& dataset, LoaderOptions options);
  // Stops the workers, also in the middle of an epoch.
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // This process's samples and batches per epoch (fewer batches when samples are skipped).
  int64_t samples_per_epoch() const;
  int64_t batches_per_epoch() const;

  // Begins `epoch` (dropping whatever was in flight), leaving out its first `skip_batches`
  // batches: a run resumed after that many steps of the epoch continues with the same batches
  // as the uninterrupted run (exactly so when no sample of the epoch was skipped as bad).
  void start_epoch(int64_t epoch, int64_t skip_batches = 0);
  // The next batch of the epoch, false at its end. Throws the first bad sample's Error unless
  // skip_bad_samples.
  bool next(Batch* batch);

  // Seconds next() has spent waiting for a batch, in all: near zero after the first batch of an
  // epoch when decoding keeps up with training.
  double wait_seconds() const;

  int64_t bad_sample_count() const;
  std::vector<BadSample> bad_samples() const;  // in the order they were met, over all epochs

 private:
  struct Result {
    Clip clip;
    std::exception_ptr error;
  };
  struct Ready {
    Batch batch;
    std::exception_ptr error;
    bool end = false;
  };

  void work();
  void collate();
  // Ends the epoch with `error` for the consumer (mu_ held).
  void fail(std::exception_ptr error);
  Batch assemble(std::vector<Clip>& clips, std::vector<Sample>& samples, int64_t index) const;

  const Dataset& dataset_;
  const LoaderOptions options_;
  const int64_t samples_per_epoch_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_, result_cv_, ready_cv_;
  bool stop_ = false;
  int64_t generation_ = 0;  // bumped by start_epoch: results of an older epoch are dropped
  bool started_ = false;
  bool active_ = false;  // the epoch has samples left to decode and no error
  int64_t first_batch_ = 0;
  std::vector<Sample> samples_;  // this epoch's, from the first one not skipped
  size_t next_claim_ = 0;        // the next sample a worker takes
  size_t next_collect_ = 0;      // the next sample the collator needs
  size_t window_ = 0;            // how far workers may run ahead of the collator
  std::map<size_t, Result> results_;
  std::deque<Ready> ready_;
  std::exception_ptr failed_;  // the epoch's error, thrown again by later next() calls
  bool ended_ = false;
  std::vector<BadSample> bad_;
  double wait_seconds_ = 0;

  std::vector<std::thread> workers_;
  std::thread collator_;
};

}  // namespace repflow
