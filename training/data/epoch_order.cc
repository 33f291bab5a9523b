#include "training/data/epoch_order.h"

#include <numeric>

#include "framework/error.h"
#include "framework/philox.h"

namespace repflow {

void check_sample_order(const SampleOrder& order) {
  RF_CHECK(order.clips_per_video >= 1, "clips per video: ", order.clips_per_video,
           " is not a positive count");
  RF_CHECK(order.world_size >= 1, "world size: ", order.world_size, " is not a positive count");
  RF_CHECK(order.rank >= 0 && order.rank < order.world_size, "rank ", order.rank,
           " is outside 0 ... ", order.world_size - 1);
}

std::vector<Sample> epoch_samples(int64_t videos, const SampleOrder& order, int64_t epoch) {
  check_sample_order(order);
  RF_CHECK(epoch >= 0, "epoch ", epoch, " is negative");
  const uint64_t shuffle_stream = 2 * static_cast<uint64_t>(epoch);
  const uint64_t clip_stream = shuffle_stream + 1;
  std::vector<Sample> samples;
  if (order.train) {
    std::vector<int64_t> perm(videos);
    std::iota(perm.begin(), perm.end(), 0);
    for (int64_t i = videos - 1; i > 0; --i) {
      const uint32_t r = philox4x32(order.seed, shuffle_stream, i).v[0];
      const int64_t j = below_of_word(r, i + 1);
      std::swap(perm[i], perm[j]);
    }
    const int64_t used = videos / order.world_size * order.world_size;
    for (int64_t p = order.rank; p < used; p += order.world_size) {
      const Philox4 r = philox4x32(order.seed, clip_stream, p);
      Sample s;
      s.video = perm[p];
      s.request = ClipRequest::training(word64(r));
      samples.push_back(s);
    }
  } else {
    const int64_t total = videos * order.clips_per_video;
    for (int64_t p = order.rank; p < total; p += order.world_size) {
      Sample s;
      s.video = p / order.clips_per_video;
      s.request = ClipRequest::evaluation(static_cast<int>(p % order.clips_per_video),
                                          order.clips_per_video);
      samples.push_back(s);
    }
  }
  return samples;
}

}  // namespace repflow
