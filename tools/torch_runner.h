#pragma once
// Runs a benchmark's PyTorch side: installs Debian's python3-torch when missing, feeds the
// script a JSON config on stdin, echoes its output and returns its `BENCH {...}` records.
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace repflow {

// The Debian Python whose torch apt-get installs: the benchmarks' --python default.
inline constexpr char kDebianPython[] = "/usr/bin/python3";

// The path of a benchmark's Python script, `relative` to the workspace, for the binary `argv0`:
// as it is under `bazel run` (which runs in the runfiles tree), else in the binary's runfiles.
std::string benchmark_script(const std::string& argv0, const std::string& relative);

// benchmark_script's path, with `python` (the benchmark's --python) checked to be a program and
// the script to be there: called at start-up, so that a bad --python or a missing script stops
// the benchmark before its own side has run for minutes, not after.
std::string python_side(const std::string& argv0, const std::string& python,
                        const std::string& relative);

// Returns no records (after saying why on stderr) when torch cannot be had (it is installed
// from Debian only for /usr/bin/python3); a `python` that is not a program, a missing script or
// a script that fails is an Error.
std::vector<nlohmann::json> run_torch_benchmark(const std::string& python,
                                                const std::string& script,
                                                const nlohmann::json& config);

// The same without installing anything: for scripts that check their own modules and say
// which are missing.
std::vector<nlohmann::json> run_python_benchmark(const std::string& python,
                                                 const std::string& script,
                                                 const nlohmann::json& config);

// `text` as one word of a shell command, whatever it holds (spaces, quotes, `;`).
std::string shell_word(const std::string& text);

// Runs `command` through the shell, echoing its output as it comes (flushed, so a long run shows
// its progress) and handing each line to `on_line`; returns pclose's status. A command that
// cannot be started is an Error.
int run_echoing(const std::string& command,
                const std::function<void(const std::string& line)>& on_line);

}  // namespace repflow
