#pragma once
// Which clips an epoch visits, in which order, on which process: a pure function of the
// options and the epoch number, so that any number of worker threads, a resumed run and every
// process of a sharded run agree on it.
#include <cstdint>
#include <vector>

#include "training/data/dataset.h"

namespace repflow {

struct SampleOrder {
  // Training: every video once per epoch, shuffled. Evaluation: every video x clips_per_video,
  // video by video, in index order.
  bool train = true;
  int clips_per_video = 1;  // evaluation only
  uint64_t seed = 0;
  // Process `rank` of `world_size` takes every world_size-th sample of the epoch from position
  // `rank`, so the shards are disjoint. Training drops the last size % world_size samples of
  // each shuffled epoch so that every process runs the same number of steps; evaluation covers
  // every sample (shards then differ in size by at most one).
  int rank = 0;
  int world_size = 1;
};

struct Sample {
  int64_t video = 0;
  ClipRequest request;
};

// Checks the options (Errors name the bad value).
void check_sample_order(const SampleOrder& order);

// The samples of `epoch` for this process, in order. Training shuffles with Philox draws of
// (seed, 2 * epoch, i) and gives the sample at epoch position p the clip seed drawn from
// (seed, 2 * epoch + 1, p): the same clip whatever the world size.
std::vector<Sample> epoch_samples(int64_t videos, const SampleOrder& order, int64_t epoch);

}  // namespace repflow
