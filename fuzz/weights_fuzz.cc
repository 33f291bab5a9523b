// Weight files as infer and --init-weights read them: the tensors, the top-level fields, and the
// metadata that describes the model, its classes and its input.
#include "framework/weights.h"
#include "fuzz/fuzz_input.h"
#include "training/weights_meta.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = repflow::fuzz::write_input(
      "weights.json", std::string(reinterpret_cast<const char*>(data), size));
  repflow::fuzz::expect_clean([&] {
    nlohmann::json extra;
    (void)repflow::load_weights(path, &extra);
    (void)repflow::weights_meta_from_extra(extra, path);
  });
  return 0;
}
