#pragma once
// Ctrl-C during training: the first SIGINT (or SIGTERM) only raises a flag that the training
// loop polls after each step, so it can save a checkpoint and exit cleanly; the handler then
// restores the default action, so a second Ctrl-C stops the process at once.
namespace repflow {

// Installs the handlers for the life of the object and restores the previous ones after.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  static bool requested();
  // The signal that was received (for the exit status 128 + signal), 0 if none.
  static int signal_number();
};

}  // namespace repflow
