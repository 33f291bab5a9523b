// main() of the mpi_*_test targets: gtest, and the path of the binary they launch.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "tests/mpi_launch.h"

namespace repflow::testing {

std::string g_worker_path;

const std::string& worker_path() { return g_worker_path; }

}  // namespace repflow::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s BINARY\n", argv[0]);
    return 2;
  }
  repflow::testing::g_worker_path = argv[1];
  return RUN_ALL_TESTS();
}
