#pragma once
// The process's MPI state: started once by init_mpi, ended by run_main_distributed, which also
// turns one rank's error into the end of the whole job.
#include <functional>

namespace repflow {

// Where this process stands among those mpirun started. local_rank counts the processes on
// this machine (0..k-1): the GPU a process drives.
struct DistContext {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_size = 1;
};

// Calls MPI_Init on the first call (later calls return the same context). A binary started
// without mpirun is a world of one.
DistContext init_mpi();
bool mpi_started();

// Ends every rank of the job with exit code `code` (MPI_Abort); before init_mpi, this process.
[[noreturn]] void abort_job(int code);

// run_main (framework/flags.h) for binaries that may run under mpirun: when the body fails
// (throws) on one rank after init_mpi, the error is printed with the rank and the job is
// aborted, so the other ranks exit at once instead of waiting in their next collective. A body
// that returns, with any exit code (e.g. 130 after an interrupt all ranks agreed on), finalises
// MPI and exits with that code.
int run_main_distributed(const std::function<int()>& body);

}  // namespace repflow
