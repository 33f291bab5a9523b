#include "training/interrupt.h"

#include <signal.h>

#include <atomic>

namespace repflow {

namespace {

// Lock-free, so reading and writing it from a signal handler is safe.
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

struct sigaction g_previous_int, g_previous_term;

void on_signal(int sig) {
  g_signal.store(sig);
  signal(sig, SIG_DFL);
}

}  // namespace

InterruptGuard::InterruptGuard() {
  g_signal.store(0);
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

bool InterruptGuard::requested() { return g_signal.load() != 0; }

int InterruptGuard::signal_number() { return g_signal.load(); }

}  // namespace repflow
