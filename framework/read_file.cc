#include "framework/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "framework/error.h"

namespace repflow {

std::string read_file(const std::string& path, int64_t max_bytes) {
  // One descriptor for the type, the size and the bytes, so that they are all the same file's.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  RF_CHECK(fd >= 0, path, ": cannot open file: ", std::strerror(errno));
  std::string bytes;
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  bool complete = false;
  const bool fits = st.st_size <= max_bytes;
  if (regular && fits) {
    bytes.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    complete = done == bytes.size();
  }
  ::close(fd);
  RF_CHECK(regular, path, ": not a regular file");
  RF_CHECK(fits, path, ": ", st.st_size, " bytes is more than the ", max_bytes, " read");
  RF_CHECK(complete, path, ": read error (the file changed while it was read?)");
  return bytes;
}

}  // namespace repflow
