#include "training/interrupt.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

namespace repflow {

namespace {

// Lock-free, so reading and writing them from a signal handler is safe. The handler may run in
// any thread (loader workers, OpenMP's compute threads), which is why the saves are marked by
// a counter the handler reads rather than by blocking signals in the thread that saves.
std::atomic<int> g_signal{0};    // the first signal
std::atomic<int> g_saving{0};    // live SaveGuards
std::atomic<int> g_deferred{0};  // a later signal, to die of when the saves are done
static_assert(std::atomic<int>::is_always_lock_free);

struct sigaction g_previous_int, g_previous_term, g_previous_hup;

// Ends the process by `sig` with its default action; only async-signal-safe calls. Inside the
// handler the signal stays blocked until the handler returns, and is delivered then.
void die_of(int sig) {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  sigaction(sig, &action, nullptr);
  raise(sig);
}

void on_signal(int sig) {
  int none = 0;
  if (g_signal.compare_exchange_strong(none, sig)) return;
  // A second signal. The store comes before the check, and ~SaveGuard leaves the count before
  // it reads g_deferred: at least one of the two sees the other's write, so the signal is
  // acted on even when the last guard ends at this moment.
  g_deferred.store(sig);
  if (g_saving.load() == 0) die_of(sig);
}

}  // namespace

InterruptGuard::InterruptGuard() {
  g_signal.store(0);
  g_deferred.store(0);
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
  sigaction(SIGHUP, &action, &g_previous_hup);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
  sigaction(SIGHUP, &g_previous_hup, nullptr);
}

bool InterruptGuard::requested() { return g_signal.load() != 0; }

int InterruptGuard::signal_number() { return g_signal.load(); }

SaveGuard::SaveGuard() { g_saving.fetch_add(1); }

SaveGuard::~SaveGuard() {
  if (g_saving.fetch_sub(1) != 1) return;
  const int deferred = g_deferred.load();
  if (deferred != 0) die_of(deferred);
}

void stop_with_parent() {
  const char* value = std::getenv(kStopWithParentVariable);
  if (value == nullptr) return;
  char* end = nullptr;
  const long parent = std::strtol(value, &end, 10);
  if (end == value || *end != '\0' || parent <= 0) return;
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  // The parent may have ended before the request: the child was then re-parented.
  if (::getppid() != static_cast<pid_t>(parent)) ::raise(SIGTERM);
}

}  // namespace repflow
