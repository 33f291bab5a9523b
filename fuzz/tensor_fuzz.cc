// One tensor object in either encoding (plain arrays, base64 float32): what a read accepts must
// write back and read again to the same shape and values.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "framework/json_tensor.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  repflow::fuzz::expect_clean([&] {
    const nlohmann::json j = repflow::parse_json(text, "input.json");
    const repflow::Tensor t = repflow::tensor_from_json(j, "input.json: tensor");
    for (const auto encoding :
         {repflow::TensorEncoding::kPlain, repflow::TensorEncoding::kBase64}) {
      const repflow::Tensor again =
          repflow::tensor_from_json(repflow::tensor_to_json(t, "t", encoding), "written");
      if (again.shape() != t.shape() ||
          (t.numel() > 0 &&
           std::memcmp(again.data(), t.data(), sizeof(float) * static_cast<size_t>(t.numel())))) {
        std::fprintf(stderr, "finding: a tensor changed in a write and read\n");
        std::abort();
      }
    }
  });
  return 0;
}
