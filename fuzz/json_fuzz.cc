// Any JSON document a user's file may hold (weights, checkpoints, lists, class maps): the
// depth limit, duplicate keys, numbers, strings and the excerpts errors quote.
#include "framework/json_tensor.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  repflow::fuzz::expect_clean([&] {
    const nlohmann::json j = repflow::parse_json(text, "input.json");
    (void)repflow::json_excerpt(j);
    if (j.is_number()) (void)repflow::json_integer(j, "input.json: value", -1000, 1000);
  });
  return 0;
}
