#include "framework/parallel.h"

#include <omp.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>

#include "framework/error.h"

namespace repflow {
namespace {

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

std::atomic<int>& thread_count() {
  static std::atomic<int> n{default_threads()};
  return n;
}

// libgomp is not fork-safe: a child forked after a parallel region waits in its next one for
// threads that were not copied. A forked child therefore counts one thread, which makes our
// loops, oneDNN's and OpenBLAS's run on its one thread.
std::atomic<bool> g_forked{false};

void mark_forked() { g_forked.store(true, std::memory_order_relaxed); }

[[maybe_unused]] const bool g_watching_forks = pthread_atfork(nullptr, nullptr, mark_forked) == 0;

}  // namespace

int num_threads() {
  return g_forked.load(std::memory_order_relaxed) ? 1
                                                  : thread_count().load(std::memory_order_relaxed);
}

void set_num_threads(int n) {
  RF_CHECK(n >= 1 && n <= 1024, "set_num_threads: ", n, " is not between 1 and 1024");
  RF_CHECK(!omp_in_parallel(), "set_num_threads: called from inside a parallel region");
  thread_count().store(n, std::memory_order_relaxed);
}

void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn) {
  if (end <= begin) return;
  const int64_t n = end - begin;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, num_threads());
  if (chunks <= 1 || omp_in_parallel()) {
    fn(begin, end);
    return;
  }
  const int64_t per = (n + chunks - 1) / chunks;
  std::exception_ptr error;
  std::mutex error_mu;
  // OpenMP may give a smaller team than asked for (a thread limit, or nesting), so each thread
  // takes every team-size-th chunk: the chunks stay the same whatever the team.
#pragma omp parallel num_threads(static_cast <int>(chunks))
  {
    const int64_t team = omp_get_num_threads();
    for (int64_t c = omp_get_thread_num(); c < chunks; c += team) {
      const int64_t b = begin + c * per;
      try {
        fn(b, std::min(end, b + per));
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace repflow
