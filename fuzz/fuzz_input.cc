#include "fuzz/fuzz_input.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <typeinfo>

#include "framework/error.h"

namespace repflow::fuzz {

const std::string& scratch_dir() {
  // Never destroyed: the exit handler below runs after static destructors would have.
  static const std::string& dir = *new std::string([] {
    // In memory where /dev/shm exists, so that writing each input costs no disk I/O.
    const char* base = std::getenv("TEST_TMPDIR");
    const std::string root = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                             : base && *base                 ? base
                                                             : "/tmp";
    // mkdtemp, not the pid: sandboxed tests run in PID namespaces, where two harnesses running
    // side by side have the same pid and share /dev/shm.
    std::string path = root + "/repflow-fuzz-XXXXXX";
    if (!::mkdtemp(path.data())) {
      std::fprintf(stderr, "fuzz: cannot create a directory under %s\n", root.c_str());
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return path;
  }());
  return dir;
}

std::string write_input(const std::string& name, const std::string& bytes) {
  const std::string path = scratch_dir() + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f)) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

namespace {
size_t refused = 0;
}  // namespace

size_t refused_inputs() { return refused; }

void expect_clean(const std::function<void()>& parse) {
  try {
    parse();
  } catch (const Error& e) {
    ++refused;
    if (std::getenv("REPFLOW_FUZZ_VERBOSE")) std::fprintf(stderr, "refused: %s\n", e.what());
    const size_t length = std::strlen(e.what());
    if (length <= kMaxMessageBytes) return;
    std::fprintf(stderr, "finding: an error message of %zu bytes: %.300s...\n", length, e.what());
    std::abort();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "finding: %s escaped instead of repflow::Error: %s\n", typeid(e).name(),
                 e.what());
    std::abort();
  }
}

std::vector<std::string> split_at_nul(const uint8_t* data, size_t size) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0)
      parts.emplace_back();
    else
      parts.back().push_back(static_cast<char>(data[i]));
  }
  return parts;
}

}  // namespace repflow::fuzz
