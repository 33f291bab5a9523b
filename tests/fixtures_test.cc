// Runs every parity fixture listed in the index file given on the command line (the files in
// ../shared/fixtures, beside the index in runfiles) whose module kind is implemented; each
// compared tensor must be within the fixtures' tolerance.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "framework/error.h"
#include "tools/fixture_check.h"

namespace {
std::vector<std::string> g_files;
}

TEST(Fixtures, EveryImplementedKindMatchesThePublishedCode) {
  if (g_files.empty()) GTEST_SKIP() << "no fixture files found (../shared/fixtures is absent)";
  int checked_files = 0;
  for (const std::string& path : g_files) {
    SCOPED_TRACE(path);
    std::cout << path << "\n";
    try {
      const repflow::FixtureReport r = repflow::check_fixture(
          path, /*skip_unsupported=*/true,
          [](const std::string& line) { std::cout << "  " << line << "\n"; });
      EXPECT_EQ(r.failed, 0);
      if (!r.skipped) {
        ++checked_files;
        EXPECT_GT(r.passed, 0);
      }
    } catch (const repflow::Error& e) {
      ADD_FAILURE() << e.what();
    }
  }
  EXPECT_GT(checked_files, 0) << "no fixture of an implemented kind was found";
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    std::cerr << "usage: fixtures_test INDEX_FILE\n";
    return 2;
  }
  const std::string index = argv[1];
  const std::string dir = index.substr(0, index.find_last_of('/') + 1);
  std::ifstream in(index);
  for (std::string name; std::getline(in, name);)
    if (!name.empty()) g_files.push_back(dir + name);
  return RUN_ALL_TESTS();
}
