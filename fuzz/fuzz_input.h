#pragma once
// What every harness shares. The parsers under test read users' files, so an input becomes a
// file in this process's scratch directory; and the one allowed way for bad input to end is a
// repflow::Error with a short message (the project's binaries print it and exit 2). Anything
// else (another exception, a message that quotes the input whole) aborts, which libFuzzer
// reports as a finding.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace repflow::fuzz {

// The longest Error message a harness accepts: files are quoted in excerpts of about 100 bytes,
// so a longer message carries the input itself.
constexpr size_t kMaxMessageBytes = 2000;

// This process's own scratch directory (under /dev/shm, else TEST_TMPDIR or /tmp), created on first
// use and removed at exit.
const std::string& scratch_dir();
// Writes `bytes` to scratch_dir()/name (replacing it) and returns the path.
std::string write_input(const std::string& name, const std::string& bytes);

// Runs `parse`, which may only return or throw a repflow::Error of at most kMaxMessageBytes.
void expect_clean(const std::function<void()>& parse);
// How many expect_clean calls ended in a repflow::Error so far (the replaying main reports it:
// a valid seed that is refused means the harness no longer reaches past the first check).
size_t refused_inputs();

// The input cut at each NUL byte: harnesses that need several files or arguments.
std::vector<std::string> split_at_nul(const uint8_t* data, size_t size);

}  // namespace repflow::fuzz

// libFuzzer's entry point, defined once per harness.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
