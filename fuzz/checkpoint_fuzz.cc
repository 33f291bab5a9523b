// Checkpoints as --resume reads them.
#include "fuzz/fuzz_input.h"
#include "training/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = repflow::fuzz::write_input(
      "checkpoint.json", std::string(reinterpret_cast<const char*>(data), size));
  repflow::fuzz::expect_clean([&] { (void)repflow::load_checkpoint(path); });
  return 0;
}
