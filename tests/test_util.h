#pragma once
// Small helpers shared by the tests.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

// Expects `stmt` to throw repflow::Error whose message contains `fragment`.
#define EXPECT_ERROR_CONTAINS(stmt, fragment)                                         \
  do {                                                                                \
    try {                                                                             \
      stmt;                                                                           \
      ADD_FAILURE() << "expected an Error containing '" << (fragment) << "'";         \
    } catch (const ::repflow::Error& e) {                                             \
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what(); \
    }                                                                                 \
  } while (0)

struct CommandResult {
  int status;          // the exit status, -1 when killed by a signal
  std::string output;  // stdout and stderr together
};

// Runs a shell command as a user would, so tests see exit codes and messages as they are.
inline CommandResult run_command(const std::string& command) {
  CommandResult r{0, ""};
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  std::array<char, 4096> buf;
  while (pipe && std::fgets(buf.data(), buf.size(), pipe)) r.output += buf.data();
  const int status = pipe ? pclose(pipe) : -1;
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A version-1 .npy file's bytes with the given header fields and raw data, built here by the
// format's rules (magic, little-endian header length, header padded with spaces to a multiple of
// 64 bytes and ended by a newline) rather than by the reader under test.
inline std::string npy_bytes(const std::string& descr, const std::string& shape,
                             const std::string& data, bool fortran_order = false) {
  std::string header = "{'descr': '" + descr +
                       "', 'fortran_order': " + (fortran_order ? "True" : "False") +
                       ", 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  const std::string length{static_cast<char>(header.size() & 0xff),
                           static_cast<char>(header.size() >> 8)};
  return std::string("\x93NUMPY\x01\x00", 8) + length + header + data;
}

// A path in the test's private scratch directory (Bazel's TEST_TMPDIR, else /tmp).
inline std::string test_tmp(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + name;
}
