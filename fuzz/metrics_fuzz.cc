// A run's metrics.jsonl as --resume reads it, then the next epoch's record appended (which
// writes every record back).
#include "fuzz/fuzz_input.h"
#include "training/report/metrics_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = repflow::fuzz::write_input(
      "metrics.jsonl", std::string(reinterpret_cast<const char*>(data), size));
  repflow::fuzz::expect_clean([&] {
    repflow::MetricsLog log = repflow::MetricsLog::read(path);
    log.drop_after_epoch(1);
    log.append({{"epoch", 2}, {"val_top1", 0.5}});
  });
  return 0;
}
