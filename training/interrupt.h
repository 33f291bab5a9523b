#pragma once
// Ctrl-C during training: the first SIGINT (or SIGTERM, or SIGHUP when the terminal closes) only
// raises a flag that the training loop polls after each step, so it can save a checkpoint and
// exit cleanly; a second one stops the process at once (it dies of that signal), except while a
// SaveGuard is alive: then it is deferred until the saves are done, so that a run directory is
// never left with an epoch's metrics but not its checkpoint.
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

// Around the writes of the run directory's files: a second signal that arrives meanwhile, in
// any thread, is held back, and the process dies of it when the outermost guard ends. Guards
// nest.
class SaveGuard {
 public:
  SaveGuard();
  ~SaveGuard();
  SaveGuard(const SaveGuard&) = delete;
  SaveGuard& operator=(const SaveGuard&) = delete;
};

// The environment variable through which a parent process (//training:experiments) gives the
// trainer it starts its pid, so that the trainer stops as on a SIGTERM (saving its checkpoint)
// when the parent dies, even of SIGKILL, rather than run on orphaned in a directory that a
// rerun of the parent would resume.
inline constexpr char kStopWithParentVariable[] = "REPFLOW_STOP_WITH_PARENT";

// With kStopWithParentVariable set to the parent's pid: has the kernel send this process
// SIGTERM when its parent ends, and sends it now when the parent has already ended.
void stop_with_parent();

}  // namespace repflow
