#include "training/distributed/mpi_runtime.h"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>

#include "framework/error.h"
#include "framework/flags.h"

namespace repflow {
namespace {

DistContext g_context;

void check_mpi(int status, const char* call) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  RF_FAIL("distributed: ", call, " failed: ", std::string(text, length));
}

}  // namespace

bool mpi_started() {
  int started = 0;
  MPI_Initialized(&started);
  int finished = 0;
  MPI_Finalized(&finished);
  return started && !finished;
}

DistContext init_mpi() {
  if (mpi_started()) return g_context;
  check_mpi(MPI_Init(nullptr, nullptr), "MPI_Init");
  // Errors come back as codes that the callers turn into repflow::Error messages.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &g_context.rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &g_context.world_size), "MPI_Comm_size");
  MPI_Comm node = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_context.rank, MPI_INFO_NULL,
                                &node),
            "MPI_Comm_split_type");
  check_mpi(MPI_Comm_rank(node, &g_context.local_rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(node, &g_context.local_size), "MPI_Comm_size");
  MPI_Comm_free(&node);
  return g_context;
}

void abort_job(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  if (mpi_started()) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

int run_main_distributed(const std::function<int()>& body) {
  bool returned = false;
  const int code = run_main([&] {
    const int c = body();
    returned = true;
    return c;
  });
  if (!mpi_started()) return code;
  if (!returned && g_context.world_size > 1) {
    std::fprintf(stderr, "error: rank %d of %d failed (exit code %d); aborting the job\n",
                 g_context.rank, g_context.world_size, code);
    abort_job(code);
  }
  MPI_Finalize();
  return code;
}

}  // namespace repflow
