#include "training/data/loader.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "framework/error.h"

namespace repflow {
namespace {

const LoaderOptions& checked(const LoaderOptions& options, const Dataset& dataset) {
  RF_CHECK(options.batch_size >= 1, "loader: batch size ", options.batch_size,
           " is not a positive count");
  RF_CHECK(options.workers >= 1 && options.workers <= kMaxLoaderWorkers,
           "loader: ", options.workers, " workers is not a count between 1 and ",
           kMaxLoaderWorkers);
  RF_CHECK(options.prefetch >= 1, "loader: prefetch ", options.prefetch,
           " is not a positive count");
  RF_CHECK(dataset.size() >= 1, "loader: the dataset has no videos");
  check_sample_order(options.order);
  return options;
}

// The message of a repflow::Error; false for any other exception, which is not a bad sample
// but a failure of the program.
bool error_message(const std::exception_ptr& e, std::string* message) {
  try {
    std::rethrow_exception(e);
  } catch (const Error& error) {
    *message = error.what();
    return true;
  } catch (...) {
    return false;
  }
}

// Why a clip cannot join the batch so far; empty when it can.
std::string clip_problem(const Clip& clip, const std::vector<Clip>& batch) {
  if (!clip.frames.defined() || clip.frames.dim() != 4 || !clip.frames.device().is_cpu()) {
    return "the dataset gave no (3, T, H, W) CPU tensor";
  }
  if (!batch.empty() && clip.frames.shape() != batch.front().frames.shape()) {
    return detail::concat("clip of shape ", shape_str(clip.frames.shape()), " in a batch of ",
                          shape_str(batch.front().frames.shape()));
  }
  return "";
}

}  // namespace

DataLoader::DataLoader(const Dataset& dataset, LoaderOptions options)
    : dataset_(dataset),
      options_(checked(options, dataset)),
      samples_per_epoch_(
          static_cast<int64_t>(epoch_samples(dataset.size(), options_.order, 0).size())),
      window_(static_cast<size_t>(std::max<int64_t>(options_.batch_size, 2 * options_.workers))) {
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
  collator_ = std::thread([this] { collate(); });
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  result_cv_.notify_all();
  ready_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  collator_.join();
}

int64_t DataLoader::samples_per_epoch() const { return samples_per_epoch_; }

int64_t DataLoader::batches_per_epoch() const {
  const int64_t b = options_.batch_size;
  return options_.drop_last ? samples_per_epoch_ / b : (samples_per_epoch_ + b - 1) / b;
}

void DataLoader::start_epoch(int64_t epoch, int64_t skip_batches) {
  RF_CHECK(skip_batches >= 0, "loader: cannot skip ", skip_batches, " batches");
  std::vector<Sample> samples = epoch_samples(dataset_.size(), options_.order, epoch);
  const size_t skipped =
      static_cast<size_t>(std::min<int64_t>(skip_batches * options_.batch_size, samples.size()));
  samples.erase(samples.begin(), samples.begin() + skipped);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generation_;
    samples_ = std::move(samples);
    next_claim_ = next_collect_ = 0;
    results_.clear();
    ready_.clear();
    failed_ = nullptr;
    ended_ = false;
    started_ = active_ = true;
    first_batch_ = skip_batches;
  }
  work_cv_.notify_all();
  result_cv_.notify_all();
  ready_cv_.notify_all();
}

bool DataLoader::next(Batch* batch) {
  std::unique_lock<std::mutex> lock(mu_);
  RF_CHECK(started_, "loader: next() called before start_epoch()");
  if (failed_) std::rethrow_exception(failed_);
  if (ended_) return false;
  const auto start = std::chrono::steady_clock::now();
  ready_cv_.wait(lock, [&] { return !ready_.empty(); });
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Ready ready = std::move(ready_.front());
  ready_.pop_front();
  ready_cv_.notify_all();
  if (ready.error) {
    failed_ = ready.error;
    std::rethrow_exception(failed_);
  }
  if (ready.end) {
    ended_ = true;
    return false;
  }
  *batch = std::move(ready.batch);
  return true;
}

double DataLoader::wait_seconds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return wait_seconds_;
}

int64_t DataLoader::bad_sample_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(bad_.size());
}

std::vector<BadSample> DataLoader::bad_samples() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bad_;
}

void DataLoader::work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] {
      return stop_ ||
             (active_ && next_claim_ < samples_.size() && next_claim_ < next_collect_ + window_);
    });
    if (stop_) return;
    const size_t i = next_claim_++;
    const int64_t generation = generation_;
    const Sample sample = samples_[i];
    lock.unlock();
    Result result;
    try {
      result.clip = dataset_.clip(sample.video, sample.request);
    } catch (...) {
      result.error = std::current_exception();
    }
    lock.lock();
    if (generation != generation_) continue;
    results_.emplace(i, std::move(result));
    result_cv_.notify_all();
  }
}

void DataLoader::collate() {
  std::unique_lock<std::mutex> lock(mu_);
  int64_t generation = -1, index = 0;
  std::vector<Clip> clips;
  std::vector<Sample> taken;
  while (true) {
    result_cv_.wait(lock, [&] {
      return stop_ || (active_ && (generation != generation_ || results_.count(next_collect_) ||
                                   next_collect_ == samples_.size()));
    });
    if (stop_) return;
    if (generation != generation_) {
      generation = generation_;
      index = first_batch_;
      clips.clear();
      taken.clear();
      continue;
    }
    const bool end = next_collect_ == samples_.size();
    if (!end) {
      const auto it = results_.find(next_collect_);
      Result result = std::move(it->second);
      results_.erase(it);
      const Sample sample = samples_[next_collect_++];
      work_cv_.notify_all();
      if (!result.error) {
        const std::string problem = clip_problem(result.clip, clips);
        if (!problem.empty()) {
          result.error =
              std::make_exception_ptr(Error(dataset_.video_name(sample.video) + ": " + problem));
        }
      }
      if (result.error) {
        std::string reason;
        if (options_.skip_bad_samples && error_message(result.error, &reason)) {
          bad_.push_back({sample.video, dataset_.video_name(sample.video), reason});
          continue;
        }
        fail(result.error);
        continue;
      }
      clips.push_back(std::move(result.clip));
      taken.push_back(sample);
      if (clips.size() < static_cast<size_t>(options_.batch_size)) continue;
    }
    const bool full = clips.size() == static_cast<size_t>(options_.batch_size);
    if (!clips.empty() && (full || !options_.drop_last)) {
      lock.unlock();
      Ready ready;
      try {
        ready.batch = assemble(clips, taken, index);
      } catch (...) {
        ready.error = std::current_exception();
      }
      lock.lock();
      ready_cv_.wait(lock, [&] {
        return stop_ || generation != generation_ ||
               ready_.size() < static_cast<size_t>(options_.prefetch);
      });
      if (stop_) return;
      if (generation != generation_) continue;
      if (ready.error) {
        fail(ready.error);
        continue;
      }
      ready_.push_back(std::move(ready));
      ready_cv_.notify_all();
      ++index;
    }
    clips.clear();
    taken.clear();
    if (end) {
      Ready last;
      last.end = true;
      ready_.push_back(std::move(last));
      active_ = false;
      ready_cv_.notify_all();
    }
  }
}

void DataLoader::fail(std::exception_ptr error) {
  Ready failure;
  failure.error = std::move(error);
  ready_.push_back(std::move(failure));
  active_ = false;
  ready_cv_.notify_all();
}

Batch DataLoader::assemble(std::vector<Clip>& clips, std::vector<Sample>& samples,
                           int64_t index) const {
  Batch batch;
  batch.index = index;
  Shape shape = clips.front().frames.shape();
  const int64_t clip_numel = clips.front().frames.numel();
  shape.insert(shape.begin(), static_cast<int64_t>(clips.size()));
  batch.clips = Tensor::empty(shape);
  for (size_t i = 0; i < clips.size(); ++i) {
    const Tensor frames = clips[i].frames.contiguous();
    std::memcpy(batch.clips.data() + i * clip_numel, frames.data(), clip_numel * sizeof(float));
    batch.labels.push_back(clips[i].label);
    batch.videos.push_back(samples[i].video);
    batch.clip_indices.push_back(samples[i].request.clip_index);
  }
  return batch;
}

}  // namespace repflow
