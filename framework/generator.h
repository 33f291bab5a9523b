#pragma once
#include <cstdint>

namespace repflow {

// A seeded stream of random tensors. Each draw takes the next offset of the counter-based
// generator, so the sequence of tensors, and every element of each, is the same on the CPU and
// the GPU for the same seed.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  // Restores a saved position (checkpoints keep seed and offset).
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  // Reserves the next offset for one draw.
  uint64_t next_offset() { return offset_++; }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The process-wide generator used when a factory is given none.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace repflow
