#include "framework/directory_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "framework/error.h"

namespace repflow {

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
