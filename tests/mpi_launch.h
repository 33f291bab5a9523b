#pragma once
// Launching a binary under mpirun from the mpi_*_test targets: tests/mpi_worker, or
// //training:train for mpi_train_test.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace repflow::testing {

// The binary the test launches, its one argument (tests/mpi_test_main.cc reads it).
const std::string& worker_path();

// mpirun's path, empty when Open MPI is not installed.
inline std::string find_mpirun() {
  const CommandResult r = run_command("command -v mpirun");
  if (r.status != 0 || r.output.empty()) return "";
  return r.output.substr(0, r.output.find('\n'));
}

// Skips the calling test, visibly, when mpirun is missing.
#define SKIP_WITHOUT_MPIRUN()                                                                    \
  do {                                                                                           \
    if (::repflow::testing::find_mpirun().empty())                                               \
      GTEST_SKIP() << "mpirun not found: install openmpi-bin (tools/setup.sh) to run this test"; \
  } while (0)

struct TimedResult {
  CommandResult result;
  double seconds;
};

// The shell command for `np` processes of `binary args` (np 0: the binary alone, a world of
// one), ended by `timeout` after `limit_s` seconds so that a hang fails the test instead of
// stalling it. Root may run mpirun only with Open MPI's two opt-in variables. Bazel's sandboxes
// give concurrent tests the same process ids, from which Open MPI names its session directories
// and shared memory files: each test keeps them in its own TEST_TMPDIR so that they cannot
// collide. Under AddressSanitizer (--config=asan) the workers do not look for leaks: Open MPI
// leaks at exit, from components it has unloaded by then, whose frames no suppression can name.
inline std::string launch_prefix(int limit_s, bool mpirun) {
  const std::string tmp = test_tmp("");
  std::string command =
      "env TMPDIR=" + tmp + " OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1" +
      " ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0 timeout " + std::to_string(limit_s) + " ";
  if (mpirun)
    command += "mpirun --oversubscribe --mca orte_tmpdir_base " + tmp +
               " --mca btl_vader_backing_directory " + tmp + " ";
  return command;
}

inline std::string workers_command(int np, const std::string& args, int limit_s = 120) {
  const std::string count = np > 0 ? "-np " + std::to_string(np) + " " : "";
  return launch_prefix(limit_s, np > 0) + count + worker_path() + " " + args;
}

// One process for each entry of `args`, each with its own arguments (mpirun's "-np 1 A : -np 1
// B"): ranks started unlike each other.
inline std::string mpmd_command(const std::vector<std::string>& args, int limit_s = 120) {
  std::string command = launch_prefix(limit_s, true);
  for (size_t r = 0; r < args.size(); ++r)
    command += (r ? " : " : "") + std::string("-np 1 ") + worker_path() + " " + args[r];
  return command;
}

// Runs workers_command(np, args, limit_s).
inline TimedResult run_workers(int np, const std::string& args, int limit_s = 120) {
  const auto start = std::chrono::steady_clock::now();
  TimedResult r{run_command(workers_command(np, args, limit_s)), 0.0};
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace repflow::testing
