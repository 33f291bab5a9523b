// Class-name files (--class-names): the paper's JSON class map when the name ends in .json (the
// first byte odd), else UCF101's classInd.txt or one name per line.
#include "fuzz/fuzz_input.h"
#include "training/data/video_list.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string path =
      repflow::fuzz::write_input(data[0] % 2 ? "classes.json" : "classes.txt",
                                 std::string(reinterpret_cast<const char*>(data + 1), size - 1));
  repflow::fuzz::expect_clean([&] { (void)repflow::read_class_names(path); });
  return 0;
}
