#include "framework/directory_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#include "framework/error.h"

namespace repflow {

namespace fs = std::filesystem;

void make_directory(const std::string& dir, const std::string& what) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  RF_CHECK(!ec, what, ": cannot create it: ", ec.message());
}

void check_directory_can_be_made(const std::string& dir, const std::string& what) {
  // The directories missing now, deepest first: those removed again. A link counts as there.
  std::vector<fs::path> missing;
  std::error_code ec;  // not_found is reported in it too: the statuses say what is there
  for (fs::path p = fs::absolute(dir, ec).lexically_normal(); p.has_relative_path();
       p = p.parent_path()) {
    if (fs::exists(fs::symlink_status(p, ec))) break;
    missing.push_back(p);
  }
  const auto remove_made = [&] {
    for (const fs::path& p : missing) fs::remove(p, ec);  // empty: made a moment ago
  };
  try {
    make_directory(dir, what);
  } catch (...) {
    remove_made();  // the parents made before a deeper one failed
    throw;
  }
  remove_made();
}

DirectoryLock::DirectoryLock(const std::string& dir, const std::string& what) {
  fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  RF_CHECK(fd_ >= 0, what, ": cannot open it to lock it: ", std::strerror(errno));
  int rc;
  do rc = ::flock(fd_, LOCK_EX | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  if (rc == 0) return;
  const int error = errno;
  ::close(fd_);
  fd_ = -1;
  RF_CHECK(error != EWOULDBLOCK, what,
           " is in use by another process, which is writing into it (wait for it to end, or "
           "use another directory)");
  RF_FAIL(what, ": cannot lock it: ", std::strerror(error));
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace repflow
