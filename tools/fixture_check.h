#pragma once
// Runs one parity fixture (../shared/fixtures/README.md) against this project's module of the
// same kind and reports, per tensor, the largest absolute and relative error.
#include <functional>
#include <string>

namespace repflow {

struct FixtureReport {
  int passed = 0;
  int failed = 0;
  bool skipped = false;  // kind not supported and skipping was allowed
};

// `print` gets one line per compared tensor. Errors in the file (missing keys, bad tensors, a
// module that does not accept the state dict) are repflow::Errors naming the file.
FixtureReport check_fixture(const std::string& path, bool skip_unsupported,
                            const std::function<void(const std::string&)>& print);

}  // namespace repflow
