// The harnesses' main() in builds without libFuzzer (no --config=fuzz): runs
// LLVMFuzzerTestOneInput once on each file named, or each file in each directory named, as
// `fuzzer -runs=0 DIR...` would. Arguments starting with '-' are libFuzzer's flags and ignored,
// so one command line serves both builds (fuzz/run_fuzzer.sh). Seeds (files under seeds/) and
// regression inputs named valid_* must be accepted, other regression inputs (bad input that once
// crashed or was accepted) refused with an Error; otherwise the run fails.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz_input.h"

int main(int argc, char** argv) {
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("-", 0) == 0) continue;
    if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::directory_iterator(arg))
        if (entry.is_regular_file()) inputs.push_back(entry.path());
    } else {
      inputs.push_back(arg);
    }
  }
  std::sort(inputs.begin(), inputs.end());
  if (inputs.empty()) {
    std::fprintf(stderr, "replay: no inputs given\n");
    return 1;
  }
  size_t wrong = 0;
  for (const std::string& path : inputs) {
    const size_t refused_before = repflow::fuzz::refused_inputs();
    std::ifstream in(path, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
      return 1;
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    const bool refused = repflow::fuzz::refused_inputs() > refused_before;
    const std::string name = std::filesystem::path(path).filename().string();
    const bool valid = path.find("/seeds/") != std::string::npos || name.rfind("valid_", 0) == 0;
    if (refused == valid && (valid || path.find("/regressions/") != std::string::npos)) {
      std::fprintf(stderr, "replay: %s was %s\n", path.c_str(),
                   valid ? "refused, but it is valid" : "accepted, but it is bad input");
      ++wrong;
    }
  }
  std::printf("replayed %zu inputs without a finding, %zu refused with an error\n", inputs.size(),
              repflow::fuzz::refused_inputs());
  return wrong ? 1 : 0;
}
