#include "tools/torch_runner.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "framework/error.h"

namespace repflow {
namespace {

// The Python and the script a benchmark runs, checked before anything runs: a --python that is
// not a program would otherwise reach the shell and, as "torch missing", apt-get.
void check_runnable(const std::string& python, const std::string& script) {
  if (python.find('/') != std::string::npos)
    RF_CHECK(::access(python.c_str(), X_OK) == 0 && !std::filesystem::is_directory(python),
             "flag --python: ", python, " is not an executable file");
  else
    RF_CHECK(std::system(("command -v " + shell_word(python) + " >/dev/null 2>&1").c_str()) == 0,
             "flag --python: ", python, " is not a program on PATH");
  RF_CHECK(std::filesystem::is_regular_file(script), "cannot find the benchmark's Python side ",
           script, " (run the benchmark with bazel run, or from the repository's root)");
}

}  // namespace

std::string shell_word(const std::string& text) {
  std::string word = "'";
  for (char c : text) word += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return word + "'";
}

std::vector<nlohmann::json> run_torch_benchmark(const std::string& python,
                                                const std::string& script,
                                                const nlohmann::json& config) {
  check_runnable(python, script);
  if (std::system((shell_word(python) + " -c 'import torch' 2>/dev/null").c_str()) != 0) {
    if (python != kDebianPython) {
      std::fprintf(stderr, "%s cannot import torch; the PyTorch column is left out\n",
                   python.c_str());
      return {};
    }
    std::fprintf(stderr, "installing Debian's python3-torch for the PyTorch comparison\n");
    const std::string sudo = geteuid() == 0 ? "" : "sudo ";
    const std::string install = sudo + "apt-get update -qq && DEBIAN_FRONTEND=noninteractive " +
                                sudo + "apt-get install -y -qq python3-torch >/dev/null";
    if (std::system(install.c_str()) != 0) {
      std::fprintf(stderr, "could not install python3-torch; the PyTorch column is left out\n");
      return {};
    }
  }
  return run_python_benchmark(python, script, config);
}

std::string benchmark_script(const std::string& argv0, const std::string& relative) {
  namespace fs = std::filesystem;
  // Under `bazel run`; beside bazel-bin's binary; in a test's runfiles, where the binary and
  // the script of its package lie side by side.
  const std::string candidates[] = {
      relative, argv0 + ".runfiles/repflow/" + relative,
      (fs::path(argv0).parent_path() / fs::path(relative).filename()).string()};
  std::error_code ignored;
  for (const std::string& path : candidates)
    if (fs::exists(path, ignored)) return path;
  return relative;
}

std::string python_side(const std::string& argv0, const std::string& python,
                        const std::string& relative) {
  const std::string script = benchmark_script(argv0, relative);
  check_runnable(python, script);
  return script;
}

std::vector<nlohmann::json> run_python_benchmark(const std::string& python,
                                                 const std::string& script,
                                                 const nlohmann::json& config) {
  check_runnable(python, script);
  std::vector<nlohmann::json> records;
  char input[] = "/tmp/repflow_bench_XXXXXX";
  const int fd = mkstemp(input);
  RF_CHECK(fd >= 0, "cannot create a temporary file for the Python benchmark config");
  const std::string text = config.dump();
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!written) {
    std::remove(input);
    RF_FAIL("cannot write the Python benchmark config to ", input);
  }
  int status = 0;
  try {
    status = run_echoing(shell_word(python) + " " + shell_word(script) + " < " + input,
                         [&](const std::string& line) {
                           if (line.rfind("BENCH ", 0) == 0)
                             records.push_back(nlohmann::json::parse(line.substr(6)));
                         });
  } catch (...) {
    std::remove(input);
    throw;
  }
  std::remove(input);
  RF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, script, " failed (",
           WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                             : "signal " + std::to_string(WTERMSIG(status)),
           ")");
  return records;
}

int run_echoing(const std::string& command,
                const std::function<void(const std::string& line)>& on_line) {
  std::fflush(stdout);
  FILE* pipe = popen(command.c_str(), "r");
  RF_CHECK(pipe, "cannot run ", command);
  char line[8192];
  try {
    while (std::fgets(line, sizeof line, pipe)) {
      std::fputs(line, stdout);
      std::fflush(stdout);
      on_line(line);
    }
  } catch (...) {
    pclose(pipe);
    throw;
  }
  return pclose(pipe);
}

}  // namespace repflow
