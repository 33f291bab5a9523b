// NumPy .npy clips as infer --npy reads them.
#include "framework/npy.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = repflow::fuzz::write_input(
      "clip.npy", std::string(reinterpret_cast<const char*>(data), size));
  repflow::fuzz::expect_clean([&] { (void)repflow::read_npy(path); });
  return 0;
}
