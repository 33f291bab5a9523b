#pragma once
// Small helpers shared by the tests.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "framework/error.h"
#include "framework/flags.h"

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
// Debian's Python, with which the converter and PyTorch-comparison tests run torch.
inline const std::string kDebianPython = "/usr/bin/python3";

// Whether Debian's Python imports `modules` ("torch" or "torch, torchvision"), asked once per
// list: those tests skip, saying so, without them.
inline bool debian_python_imports(const std::string& modules) {
  static std::map<std::string, bool> known;
  const auto it = known.find(modules);
  if (it != known.end()) return it->second;
  return known[modules] = run_command(kDebianPython + " -c 'import " + modules + "'").status == 0;
}

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

// Parses `args` as a binary's command line (after its name).
inline bool parse_args(repflow::Flags& flags, std::vector<std::string> args,
                       bool allow_positional = false) {
  std::vector<char*> argv{const_cast<char*>("prog")};
  for (std::string& a : args) argv.push_back(a.data());
  return flags.parse(static_cast<int>(argv.size()), argv.data(), allow_positional);
}

// A fresh, empty directory in the scratch directory, so listing it shows exactly what a test
// left behind.
inline std::string fresh_dir(const std::string& name) {
  const std::string dir = test_tmp(name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// The names in a directory, sorted.
inline std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}
