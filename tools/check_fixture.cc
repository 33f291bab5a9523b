// check_fixture FILE...: runs parity fixtures produced by the paper's published code and prints
// one line per compared tensor, then "fixtures: N passed, M failed" (tensors). Exit 0 only when
// every tensor is within tolerance; 2 on bad input.
#include <cstdio>

#include "framework/error.h"
#include "framework/flags.h"
#include "tools/fixture_check.h"

int main(int argc, char** argv) {
  return repflow::run_main([&] {
    repflow::Flags flags("check_fixture",
                         "Checks this project's reference modules against fixture files.\n"
                         "usage: check_fixture [flags] FILE.json...");
    flags.add("skip-unsupported", "false",
              "skip files whose module kind this build does not implement yet, instead of failing");
    if (!flags.parse(argc, argv, /*allow_positional=*/true)) return 0;
    RF_CHECK(!flags.positional().empty(), "check_fixture: no fixture files given (see --help)");
    int passed = 0, failed = 0;
    for (const std::string& path : flags.positional()) {
      std::printf("%s\n", path.c_str());
      const repflow::FixtureReport r = repflow::check_fixture(
          repflow::user_path(path), flags.boolean("skip-unsupported"),
          [](const std::string& line) { std::printf("  %s\n", line.c_str()); });
      passed += r.passed;
      failed += r.failed;
    }
    std::printf("fixtures: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
  });
}
