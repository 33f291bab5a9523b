#include "framework/thread_pool.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "framework/error.h"

namespace repflow {
namespace {

thread_local bool t_inside_pool = false;

int default_threads() {
  if (const char* env = std::getenv("REPFLOW_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    RF_CHECK(*env && *end == '\0' && n >= 1 && n <= 1024, "REPFLOW_NUM_THREADS: '", env,
             "' is not a thread count between 1 and 1024");
    return static_cast<int>(n);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

class Pool {
 public:
  explicit Pool(int threads) { resize(threads); }
  ~Pool() { stop_workers(); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int threads) {
    stop_workers();
    stopping_ = false;
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }

  void run(int64_t chunks, const std::function<void(int64_t)>& chunk_fn) {
    std::unique_lock<std::mutex> job_lock(job_mu_);  // one parallel region at a time
    uint64_t gen;
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &chunk_fn;
      chunks_ = chunks;
      next_chunk_ = 0;
      remaining_ = chunks;
      error_ = nullptr;
      gen = ++generation_;
    }
    wake_.notify_all();
    drain(gen);
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return remaining_ == 0; });
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // Chunks are claimed under the lock and only for the job of generation `gen`, so a worker
  // that wakes late can never run a chunk of a finished or a newer job. Chunks number at most
  // the thread count, so the lock is taken a handful of times per region.
  void drain(uint64_t gen) {
    const bool was_inside = t_inside_pool;
    t_inside_pool = true;
    for (;;) {
      int64_t chunk;
      const std::function<void(int64_t)>* job;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (generation_ != gen || next_chunk_ >= chunks_) break;
        chunk = next_chunk_++;
        job = job_;
      }
      std::exception_ptr error;
      try {
        (*job)(chunk);
      } catch (...) {
        error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mu_);
      if (error && !error_) error_ = error;
      if (--remaining_ == 0) done_.notify_all();
    }
    t_inside_pool = was_inside;
  }

  void work() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return stopping_ || (generation_ != seen && job_ != nullptr); });
        if (stopping_) return;
        seen = generation_;
      }
      drain(seen);
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex job_mu_, mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t chunks_ = 0, next_chunk_ = 0, remaining_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool p(default_threads());
  return p;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) {
  RF_CHECK(n >= 1 && n <= 1024, "set_num_threads: ", n, " is not between 1 and 1024");
  RF_CHECK(!t_inside_pool, "set_num_threads: called from inside a parallel region");
  if (n != pool().size()) pool().resize(n);
}

void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn) {
  if (end <= begin) return;
  const int64_t n = end - begin;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, num_threads());
  if (chunks <= 1 || t_inside_pool) {
    fn(begin, end);
    return;
  }
  const int64_t per = (n + chunks - 1) / chunks;
  pool().run(chunks, [&](int64_t c) {
    const int64_t b = begin + c * per;
    fn(b, std::min(end, b + per));
  });
}

}  // namespace repflow
