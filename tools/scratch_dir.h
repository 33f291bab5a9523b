#pragma once
// A benchmark's scratch directory: made fresh under `parent` and removed with everything in it
// however the benchmark ends, an error included.
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "framework/error.h"

namespace repflow {

class ScratchDir {
 public:
  // PARENT/PREFIXXXXXXX, made by mkdtemp; an Error naming `parent` when it cannot be.
  ScratchDir(const std::string& parent, const std::string& prefix) {
    std::string pattern = parent + "/" + prefix + "XXXXXX";
    RF_CHECK(mkdtemp(pattern.data()) != nullptr, "cannot create a directory in ", parent);
    path_ = pattern;
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace repflow
