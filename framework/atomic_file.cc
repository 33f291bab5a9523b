#include "framework/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "framework/error.h"

namespace repflow {

void check_output_file(const std::string& path, const std::string& what,
                       const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path out(path);
  const bool exists = fs::exists(out, ec);
  RF_CHECK(!exists || fs::is_regular_file(out, ec), what, " ", path,
           ": exists and is not a regular file (a directory, device or pipe); the output must be "
           "a file's path");
  const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
  RF_CHECK(fs::is_directory(dir, ec), what, " ", path, ": the directory ", dir.string(),
           " does not exist");
  RF_CHECK(::access(dir.c_str(), W_OK) == 0, what, " ", path, ": cannot write in ", dir.string(),
           ": ", std::strerror(errno));
  if (!exists) return;
  for (const std::string& input : inputs) {
    if (input.empty() || !fs::exists(input, ec)) continue;
    RF_CHECK(!fs::equivalent(out, input, ec), what, " ", path, " is the input ", input,
             ", which the output would replace");
    RF_CHECK(!fs::is_directory(input, ec) || !fs::equivalent(dir, input, ec), what, " ", path,
             " is a file in the input directory ", input, ", which the output would replace");
  }
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  // Unique per process and call, so concurrent saves to one path never share a temporary file.
  static std::atomic<int> counter{0};
  // The rename replaces whatever the name holds: run as root, an output of /dev/null would turn
  // the device into a regular file. Only a regular file (or a name not yet taken) is replaced.
  struct stat existing {};
  RF_CHECK(::stat(path.c_str(), &existing) != 0 || S_ISREG(existing.st_mode), path,
           ": exists and is not a regular file (a directory, device or pipe); the output must be "
           "a file's path");
  const std::string tmp =
      path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter++);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  RF_CHECK(fd >= 0, path, ": cannot create the temporary file ", tmp, ": ", std::strerror(errno));
  const auto fail = [&](const char* step, int err, bool open) {
    if (open) ::close(fd);
    ::unlink(tmp.c_str());
    RF_FAIL(path, ": ", step, ": ", std::strerror(err), " (the previous file, if any, is kept)");
  };
  const auto write_range = [&](size_t done, size_t end) {
    while (done < end) {
      const ssize_t n = ::write(fd, contents.data() + done, end - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("write failed", n < 0 ? errno : ENOSPC, true);
      done += static_cast<size_t>(n);
    }
  };
  // Test-only fault injection (tests/kill_test.cc): REPFLOW_TEST_KILL_DURING_WRITE=<basename>
  // makes the process SIGKILL itself once half of that file's temporary copy is written, so a
  // test can land a kill inside any one file's save, which random timing rarely hits.
  const char* kill_during = std::getenv("REPFLOW_TEST_KILL_DURING_WRITE");
  const bool kill_midway =
      kill_during != nullptr && std::filesystem::path(path).filename() == kill_during;
  const size_t half = contents.size() / 2;
  write_range(0, half);
  if (kill_midway) ::raise(SIGKILL);
  write_range(half, contents.size());
  if (::fsync(fd) != 0) fail("flushing to disk failed", errno, true);
  if (::close(fd) != 0) fail("closing failed", errno, false);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot move into place", errno, false);
}

int remove_stale_temporaries(const std::string& dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const size_t at = name.rfind(".tmp.");
    if (at == std::string::npos || !entry.is_regular_file(ec)) continue;
    // ".tmp.<pid>.<n>", the name write_file_atomic gives.
    char* end = nullptr;
    const char* digits = name.c_str() + at + 5;
    const long pid = std::strtol(digits, &end, 10);
    if (end == digits || *end != '.' || pid <= 0) continue;
    const char* count = end + 1;
    std::strtol(count, &end, 10);
    if (end == count || *end != '\0') continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive, or unknown
    if (std::filesystem::remove(entry.path(), ec)) ++removed;
  }
  return removed;
}

}  // namespace repflow
