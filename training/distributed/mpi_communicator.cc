#include "training/distributed/mpi_communicator.h"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <thread>

#include "training/distributed/mpi_runtime.h"

namespace repflow {
namespace {

using Clock = std::chrono::steady_clock;

// Tag of the point-to-point messages by which ranks past a deadline find each other.
constexpr int kTimeoutTag = 7001;
// How long a rank past its deadline listens for the other ranks' reports.
constexpr double kReportGraceSeconds = 3.0;

void check_mpi(int status, const std::string& what, const char* call) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  RF_FAIL("distributed: ", what, ": ", call, " failed: ", std::string(text, length));
}

int mpi_count(int64_t n, const std::string& what) {
  RF_CHECK(n <= INT32_MAX, "distributed: ", what, ": ", n,
           " elements exceed what one MPI call takes; use smaller buckets");
  return static_cast<int>(n);
}

// Polls with short sleeps after a burst of spins: latency stays low for small collectives
// without a rank burning a core while it waits for a slow peer.
void back_off(int& polls) {
  if (++polls > 200) std::this_thread::sleep_for(std::chrono::microseconds(200));
}

class MpiPending : public PendingCollective {
 public:
  MpiPending(MpiCommunicator* comm, std::string what)
      : comm_(comm), what_(std::move(what)), start_(Clock::now()) {}
  ~MpiPending() override {
    // An abandoned collective (an exception unwinding past it) cannot be cancelled in MPI;
    // finishing it keeps the buffer alive for as long as MPI writes to it.
    if (request_ != MPI_REQUEST_NULL) comm_->wait_for(&request_, start_, what_);
  }
  MPI_Request* request() { return &request_; }
  bool test() override {
    if (request_ == MPI_REQUEST_NULL) return true;
    int done = 0;
    check_mpi(MPI_Test(&request_, &done, MPI_STATUS_IGNORE), what_, "MPI_Test");
    return done != 0;
  }
  void wait() override { comm_->wait_for(&request_, start_, what_); }

 private:
  MpiCommunicator* comm_;
  std::string what_;
  Clock::time_point start_;
  MPI_Request request_ = MPI_REQUEST_NULL;
};

}  // namespace

MpiCommunicator::MpiCommunicator(double timeout_s) : timeout_s_(timeout_s) {
  RF_CHECK(mpi_started(), "distributed: MpiCommunicator needs init_mpi() first");
  RF_CHECK(timeout_s > 0, "distributed: the collective timeout must be positive, got ", timeout_s,
           " s");
  check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "communicator", "MPI_Comm_dup");
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &world_size_);
}

MpiCommunicator::~MpiCommunicator() {
  if (comm_ != MPI_COMM_NULL && mpi_started()) MPI_Comm_free(&comm_);
}

std::unique_ptr<PendingCollective> MpiCommunicator::allreduce_sum_async(const Tensor& t,
                                                                        const std::string& what) {
  check_collective_tensor(*this, t, what);
  auto pending = std::make_unique<MpiPending>(this, what);
  ++collectives_;
  check_mpi(MPI_Iallreduce(MPI_IN_PLACE, t.data(), mpi_count(t.numel(), what), MPI_FLOAT, MPI_SUM,
                           comm_, pending->request()),
            what, "MPI_Iallreduce");
  return pending;
}

void MpiCommunicator::broadcast(const Tensor& t, int root, const std::string& what) {
  check_collective_tensor(*this, t, what);
  RF_CHECK(root >= 0 && root < world_size_, "distributed: ", what, ": root ", root,
           " is not a rank of a world of ", world_size_);
  MpiPending pending(this, what);
  ++collectives_;
  check_mpi(
      MPI_Ibcast(t.data(), mpi_count(t.numel(), what), MPI_FLOAT, root, comm_, pending.request()),
      what, "MPI_Ibcast");
  pending.wait();
}

void MpiCommunicator::broadcast_bytes(void* data, int bytes, int root, const std::string& what) {
  MpiPending pending(this, what);
  ++collectives_;
  check_mpi(MPI_Ibcast(data, bytes, MPI_BYTE, root, comm_, pending.request()), what, "MPI_Ibcast");
  pending.wait();
}

std::vector<double> MpiCommunicator::allreduce_sum(const std::vector<double>& values,
                                                   const std::string& what) {
  std::vector<double> sums = values;
  MpiPending pending(this, what);
  ++collectives_;
  check_mpi(MPI_Iallreduce(MPI_IN_PLACE, sums.data(), mpi_count(sums.size(), what), MPI_DOUBLE,
                           MPI_SUM, comm_, pending.request()),
            what, "MPI_Iallreduce");
  pending.wait();
  return sums;
}

void MpiCommunicator::wait_for(MPI_Request* request, Clock::time_point start,
                               const std::string& what) {
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(timeout_s_));
  int polls = 0;
  for (;;) {
    int done = 0;
    check_mpi(MPI_Test(request, &done, MPI_STATUS_IGNORE), what, "MPI_Test");
    if (done) return;
    if (Clock::now() > deadline) timed_out(what);
    if (polls % 64 == 0) answer_timeout_reports();
    back_off(polls);
  }
}

void MpiCommunicator::answer_timeout_reports() {
  for (;;) {
    int pending = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, kTimeoutTag, comm_, &pending, &status);
    if (!pending) return;
    long long their_collective = 0;
    MPI_Recv(&their_collective, 1, MPI_LONG_LONG, status.MPI_SOURCE, kTimeoutTag, comm_,
             MPI_STATUS_IGNORE);
    // The asking rank aborts the job soon, so the request is never waited for.
    MPI_Request reply;
    MPI_Isend(&collectives_, 1, MPI_LONG_LONG, status.MPI_SOURCE, kTimeoutTag, comm_, &reply);
    MPI_Request_free(&reply);
  }
}

void MpiCommunicator::timed_out(const std::string& what) {
  for (int r = 0; r < world_size_; ++r) {
    if (r == rank_) continue;
    MPI_Request report;
    MPI_Isend(&collectives_, 1, MPI_LONG_LONG, r, kTimeoutTag, comm_, &report);
    MPI_Request_free(&report);
  }
  // Ranks waiting in a collective answer (or report their own timeout); silent ones are the
  // ones that stopped, hung, or are busy somewhere other than a collective.
  std::vector<long long> seen(world_size_, -1);
  seen[rank_] = collectives_;
  const auto grace_end =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(std::min(kReportGraceSeconds, timeout_s_)));
  int polls = 0;
  while (Clock::now() < grace_end && std::count(seen.begin(), seen.end(), -1) > 0) {
    int pending = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, kTimeoutTag, comm_, &pending, &status);
    if (pending) {
      MPI_Recv(&seen[status.MPI_SOURCE], 1, MPI_LONG_LONG, status.MPI_SOURCE, kTimeoutTag, comm_,
               MPI_STATUS_IGNORE);
    } else {
      back_off(polls);
    }
  }
  std::ostringstream missing, elsewhere;
  for (int r = 0; r < world_size_; ++r) {
    if (seen[r] < 0)
      missing << (missing.tellp() > 0 ? ", " : "") << r;
    else if (seen[r] != collectives_)
      elsewhere << (elsewhere.tellp() > 0 ? ", " : "") << r << " (collective #" << seen[r] << ")";
  }
  std::ostringstream message;
  message << "error: distributed: " << what << " (collective #" << collectives_
          << ") did not complete within " << timeout_s_ << " s on rank " << rank_ << " of "
          << world_size_ << "; ";
  if (missing.tellp() > 0) {
    message << "rank(s) " << missing.str() << " never reached it (stopped, hung or still busy)";
  } else {
    message << "every rank is waiting";
  }
  if (elsewhere.tellp() > 0)
    message << "; rank(s) waiting in another collective: " << elsewhere.str();
  message << ". Aborting the job (raise --dist-timeout if a rank is just slow).\n";
  std::fputs(message.str().c_str(), stderr);
  abort_job(2);
}

}  // namespace repflow
