// framework/precision.h: parsing, the thread's scope, and what each device runs a requested
// precision in.
#include "framework/precision.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/test_util.h"

namespace repflow {
namespace {

TEST(Precision, ParsesItsNamesAndNamesTheFlagOtherwise) {
  for (const Precision p : {Precision::kFp32, Precision::kTf32, Precision::kBf16})
    EXPECT_EQ(parse_precision(precision_name(p)), p);
  EXPECT_ERROR_CONTAINS(parse_precision("fp16", "precision"),
                        "flag --precision: 'fp16' is not fp32, tf32 or bf16");
}

TEST(Precision, ScopesNestRestoreAndBelongToTheirThread) {
  EXPECT_EQ(compute_precision(), Precision::kFp32);
  {
    PrecisionScope outer(Precision::kBf16);
    EXPECT_EQ(compute_precision(), Precision::kBf16);
    Precision elsewhere = Precision::kBf16;
    std::thread([&] { elsewhere = compute_precision(); }).join();
    EXPECT_EQ(elsewhere, Precision::kFp32);
    {
      PrecisionScope inner(Precision::kTf32);
      EXPECT_EQ(compute_precision(), Precision::kTf32);
    }
    EXPECT_EQ(compute_precision(), Precision::kBf16);
  }
  EXPECT_EQ(compute_precision(), Precision::kFp32);
}

TEST(Precision, EachDeviceRunsWhatItCanOrSaysWhy) {
  std::string note = "stale";
  EXPECT_EQ(precision_for(Precision::kFp32, Device::cpu(), &note), Precision::kFp32);
  EXPECT_EQ(note, "");
  EXPECT_ERROR_CONTAINS(precision_for(Precision::kTf32, Device::cpu(), &note),
                        "precision tf32 is a GPU's");
  for (const Precision p : {Precision::kFp32, Precision::kTf32, Precision::kBf16}) {
    EXPECT_EQ(precision_for(p, Device::cuda(), &note), p);
    EXPECT_EQ(note, "");
  }
  const Precision cpu_bf16 = precision_for(Precision::kBf16, Device::cpu(), &note);
  if (cpu_has_bf16()) {
    EXPECT_EQ(cpu_bf16, Precision::kBf16);
    EXPECT_EQ(note, "");
  } else {
    EXPECT_EQ(cpu_bf16, Precision::kFp32);
    EXPECT_NE(note.find("neither AVX512-BF16 nor AMX"), std::string::npos) << note;
  }
}

}  // namespace
}  // namespace repflow
