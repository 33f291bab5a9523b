#pragma once
#include <cmath>
#include <cstdint>

#include "framework/hostdev.h"

namespace repflow {

// Philox4x32-10 (Salmon et al., SC'11): a counter-based generator, so element i of a random
// tensor depends only on (seed, offset, i). The CPU loop and the CUDA kernel therefore draw the
// same stream, whatever their scheduling.
struct Philox4 {
  uint32_t v[4];
};

RF_HD uint32_t philox_mulhi(uint32_t a, uint32_t b) {
  return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
}

RF_HD Philox4 philox4x32(uint64_t seed, uint64_t offset, uint64_t index) {
  uint32_t c0 = static_cast<uint32_t>(index), c1 = static_cast<uint32_t>(index >> 32);
  uint32_t c2 = static_cast<uint32_t>(offset), c3 = static_cast<uint32_t>(offset >> 32);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint32_t hi0 = philox_mulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
    const uint32_t hi1 = philox_mulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Uniform in [0, 1) from a word's top 24 bits: exactly representable, identical on both devices.
RF_HD float uniform_of_word(uint32_t word) {
  return static_cast<float>(word >> 8) * (1.0f / 16777216.0f);
}

RF_HD float philox_uniform(uint64_t seed, uint64_t offset, uint64_t index) {
  return uniform_of_word(philox4x32(seed, offset, index).v[0]);
}

// A uniform integer in [0, n) from one word (multiply and shift: no division, and a bias below
// n / 2^32), for n up to 2^32.
RF_HD int64_t below_of_word(uint32_t word, int64_t n) {
  return static_cast<int64_t>((static_cast<uint64_t>(word) * static_cast<uint64_t>(n)) >> 32);
}

// The first two words of a draw as one 64-bit number: a seed or key derived from another.
RF_HD uint64_t word64(const Philox4& r) {
  return static_cast<uint64_t>(r.v[0]) | (static_cast<uint64_t>(r.v[1]) << 32);
}

// Standard normal by Box-Muller on two words of the same draw. log/cos may differ in the last
// bit between the host and device libraries; the uniforms they start from do not.
RF_HD float philox_normal(uint64_t seed, uint64_t offset, uint64_t index) {
  const Philox4 r = philox4x32(seed, offset, index);
  const float u1 = (static_cast<float>(r.v[0] >> 8) + 1.0f) * (1.0f / 16777216.0f);
  const float u2 = static_cast<float>(r.v[1] >> 8) * (1.0f / 16777216.0f);
  return sqrtf(-2.0f * logf(u1)) * cosf(6.283185307179586f * u2);
}

}  // namespace repflow
