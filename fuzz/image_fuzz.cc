// Frame files (JPEG, PNG, BMP) as the frame-folder datasets and infer read them; the first byte
// picks the channels asked for (0 = the file's own, 1 to 4).
#include "framework/image_io.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int channels = data[0] % 5;
  const std::string path = repflow::fuzz::write_input(
      "frame.img", std::string(reinterpret_cast<const char*>(data + 1), size - 1));
  repflow::fuzz::expect_clean([&] { (void)repflow::read_image(path, channels); });
  return 0;
}
