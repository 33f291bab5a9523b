#include "training/data/loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "framework/error.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

// Clips that say which request made them: element 0 the video, 1 the seed's low bits, 2 the
// clip index, 3 the clip count. Videos in `bad` throw; decoding takes an uneven time so that
// workers finish out of order, or `decode_us` each.
class RecordingDataset : public Dataset {
 public:
  explicit RecordingDataset(int64_t videos, std::set<int64_t> bad = {}, int decode_us = 0)
      : videos_(videos), bad_(std::move(bad)), decode_us_(decode_us) {}
  int64_t size() const override { return videos_; }
  int64_t num_classes() const override { return 3; }
  std::string video_name(int64_t index) const override { return "video" + std::to_string(index); }
  Clip clip(int64_t index, const ClipRequest& request) const override {
    std::this_thread::sleep_for(
        std::chrono::microseconds(decode_us_ ? decode_us_ : (index * 7919) % 2000));
    RF_CHECK(!bad_.count(index), "video", index, "/3.png: cannot read");
    Clip clip;
    clip.frames = Tensor::from_vector(
        {1, 1, 2, 2}, {static_cast<float>(index), static_cast<float>(request.seed % 4096),
                       static_cast<float>(request.clip_index), static_cast<float>(request.clips)});
    clip.label = index % 3;
    return clip;
  }

 private:
  int64_t videos_;
  std::set<int64_t> bad_;
  int decode_us_;
};

struct Seen {
  std::vector<std::vector<float>> clips;
  std::vector<int64_t> videos, labels, indices;
};

Seen run_epoch(DataLoader& loader, int64_t epoch, int64_t skip = 0) {
  Seen seen;
  loader.start_epoch(epoch, skip);
  Batch batch;
  while (loader.next(&batch)) {
    EXPECT_EQ(batch.clips.size(0), static_cast<int64_t>(batch.videos.size()));
    const std::vector<float> data = batch.clips.to_vector();
    for (size_t i = 0; i < batch.videos.size(); ++i) {
      seen.clips.emplace_back(data.begin() + 4 * i, data.begin() + 4 * (i + 1));
      EXPECT_EQ(seen.clips.back()[0], batch.videos[i]);
      EXPECT_EQ(batch.labels[i], batch.videos[i] % 3);
    }
    seen.videos.insert(seen.videos.end(), batch.videos.begin(), batch.videos.end());
    seen.labels.insert(seen.labels.end(), batch.labels.begin(), batch.labels.end());
    seen.indices.push_back(batch.index);
  }
  return seen;
}

LoaderOptions options(int workers, int64_t batch = 4) {
  LoaderOptions o;
  o.order.seed = 11;
  o.batch_size = batch;
  o.workers = workers;
  o.prefetch = 2;
  return o;
}

TEST(Loader, SameSeedGivesTheSameBatchesForAnyWorkerCount) {
  const RecordingDataset data(23);
  DataLoader one(data, options(1)), four(data, options(4));
  const Seen a = run_epoch(one, 0), b = run_epoch(four, 0);
  EXPECT_EQ(a.clips, b.clips);
  EXPECT_EQ(a.indices, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  // Every video once, shuffled, with its own clip seed.
  std::vector<int64_t> sorted = a.videos;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t v = 0; v < 23; ++v) EXPECT_EQ(sorted[v], v);
  std::vector<int64_t> identity(23);
  for (int64_t v = 0; v < 23; ++v) identity[v] = v;
  EXPECT_NE(a.videos, identity);
  // Another epoch is another order and other seeds; the same epoch again is the same.
  const Seen c = run_epoch(four, 1);
  EXPECT_NE(c.videos, a.videos);
  EXPECT_EQ(run_epoch(one, 1).clips, c.clips);
  EXPECT_EQ(run_epoch(one, 0).clips, a.clips);
  EXPECT_EQ(one.samples_per_epoch(), 23);
  EXPECT_EQ(one.batches_per_epoch(), 6);
}

TEST(Loader, ResumingMidEpochContinuesWithTheSameBatches) {
  const RecordingDataset data(23);
  DataLoader loader(data, options(3));
  const Seen whole = run_epoch(loader, 2);
  const Seen rest = run_epoch(loader, 2, 4);
  ASSERT_EQ(rest.clips.size(), whole.clips.size() - 16);
  EXPECT_TRUE(std::equal(rest.clips.begin(), rest.clips.end(), whole.clips.begin() + 16));
  EXPECT_EQ(rest.indices, (std::vector<int64_t>{4, 5}));
  EXPECT_TRUE(run_epoch(loader, 2, 9).clips.empty());
}

TEST(Loader, TrainingShardsAreDisjointAndCoverTheEpochWithEqualSizes) {
  const RecordingDataset data(23);
  std::vector<Seen> shards;
  std::multiset<int64_t> all;
  for (int rank = 0; rank < 3; ++rank) {
    LoaderOptions o = options(2);
    o.order.rank = rank;
    o.order.world_size = 3;
    DataLoader loader(data, o);
    shards.push_back(run_epoch(loader, 5));
    EXPECT_EQ(shards.back().videos.size(), 7u);  // 23 // 3: every process runs as many steps
    EXPECT_EQ(loader.samples_per_epoch(), 7);
    all.insert(shards.back().videos.begin(), shards.back().videos.end());
  }
  EXPECT_EQ(all.size(), 21u);
  EXPECT_EQ(std::set<int64_t>(all.begin(), all.end()).size(), 21u);
  // The clips a shard gets are those the single process gets at the same epoch positions.
  DataLoader single(data, options(2, 1));
  const Seen whole = run_epoch(single, 5);
  for (int rank = 0; rank < 3; ++rank) {
    for (size_t j = 0; j < shards[rank].clips.size(); ++j) {
      EXPECT_EQ(shards[rank].clips[j], whole.clips[rank + 3 * j]);
    }
  }
}

TEST(Loader, EvaluationVisitsEveryVideoTimesClipsAcrossShards) {
  const RecordingDataset data(7);
  std::set<std::pair<int64_t, int>> seen;
  size_t total = 0;
  for (int rank = 0; rank < 2; ++rank) {
    LoaderOptions o = options(3, 5);
    o.order.train = false;
    o.order.clips_per_video = 3;
    o.order.rank = rank;
    o.order.world_size = 2;
    DataLoader loader(data, o);
    loader.start_epoch(0);
    Batch batch;
    while (loader.next(&batch)) {
      const std::vector<float> d = batch.clips.to_vector();
      for (size_t i = 0; i < batch.videos.size(); ++i) {
        EXPECT_EQ(d[4 * i + 2], batch.clip_indices[i]);
        EXPECT_EQ(d[4 * i + 3], 3.0f);
        seen.insert({batch.videos[i], batch.clip_indices[i]});
        ++total;
      }
    }
  }
  EXPECT_EQ(total, 21u);
  EXPECT_EQ(seen.size(), 21u);
  for (int64_t v = 0; v < 7; ++v) {
    for (int c = 0; c < 3; ++c) EXPECT_TRUE(seen.count({v, c})) << v << " " << c;
  }
}

TEST(Loader, BadSampleErrorReachesTheConsumerAndTheLoaderStaysUsable) {
  const RecordingDataset data(23, {5});
  DataLoader loader(data, options(3));
  loader.start_epoch(0);
  Batch batch;
  int64_t good = 0;
  EXPECT_ERROR_CONTAINS(
      while (loader.next(&batch)) good += static_cast<int64_t>(batch.videos.size()),
      "video5/3.png: cannot read");
  EXPECT_LT(good, 23);
  EXPECT_ERROR_CONTAINS(loader.next(&batch), "video5/3.png");
  EXPECT_EQ(loader.bad_sample_count(), 0);
  // A new epoch starts cleanly after the error.
  EXPECT_ERROR_CONTAINS(run_epoch(loader, 1), "video5/3.png");
}

TEST(Loader, SkippingBadSamplesFillsBatchesAndReportsThem) {
  const RecordingDataset data(23, {5, 17});
  LoaderOptions o = options(3);
  o.skip_bad_samples = true;
  DataLoader loader(data, o);
  const Seen seen = run_epoch(loader, 0);
  EXPECT_EQ(seen.videos.size(), 21u);
  EXPECT_EQ(seen.indices.size(), 6u);  // 21 good samples: 5 full batches and one of 1
  EXPECT_EQ(std::count(seen.videos.begin(), seen.videos.end(), 5), 0);
  ASSERT_EQ(loader.bad_sample_count(), 2);
  std::set<std::string> names;
  for (const BadSample& b : loader.bad_samples()) {
    names.insert(b.name);
    EXPECT_NE(b.reason.find("/3.png: cannot read"), std::string::npos);
  }
  EXPECT_EQ(names, (std::set<std::string>{"video5", "video17"}));
  // The good clips come in the same order as without the bad ones.
  const RecordingDataset clean(23);
  DataLoader reference(clean, options(1));
  std::vector<std::vector<float>> expected;
  for (const auto& clip : run_epoch(reference, 0).clips) {
    if (clip[0] != 5 && clip[0] != 17) expected.push_back(clip);
  }
  EXPECT_EQ(seen.clips, expected);
}

TEST(Loader, DropLastAndDestroyingMidEpochDoNotHang) {
  const RecordingDataset data(23);
  LoaderOptions o = options(4, 5);
  o.drop_last = true;
  {
    DataLoader loader(data, o);
    EXPECT_EQ(loader.batches_per_epoch(), 4);
    EXPECT_EQ(run_epoch(loader, 0).videos.size(), 20u);
    loader.start_epoch(1);
    Batch batch;
    ASSERT_TRUE(loader.next(&batch));
  }
  DataLoader never_started(data, o);
}

TEST(Loader, PrefetchingKeepsTheConsumerFromWaitingWhenDecodingIsFaster) {
  // A batch takes 4 x 10 ms / 2 workers = 20 ms to decode and 50 ms to "train" on: after the
  // first batch the next one is always ready. Decoding only on demand would wait 20 ms a batch.
  const RecordingDataset data(24, {}, 10000);
  DataLoader loader(data, options(2));
  loader.start_epoch(0);
  Batch batch;
  ASSERT_TRUE(loader.next(&batch));
  const double first = loader.wait_seconds();
  EXPECT_GT(first, 0.015);
  int batches = 1;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (loader.next(&batch) && ++batches);
  EXPECT_EQ(batches, 6);
  EXPECT_LT(loader.wait_seconds() - first, 0.025);
}

TEST(Loader, BadOptionsAreErrors) {
  const RecordingDataset data(4), empty(0);
  LoaderOptions o = options(2);
  o.batch_size = 0;
  EXPECT_ERROR_CONTAINS(DataLoader(data, o), "loader: batch size 0 is not a positive count");
  o = options(0);
  EXPECT_ERROR_CONTAINS(DataLoader(data, o), "loader: 0 workers");
  o = options(2);
  o.order.rank = 2;
  o.order.world_size = 2;
  EXPECT_ERROR_CONTAINS(DataLoader(data, o), "rank 2 is outside 0 ... 1");
  EXPECT_ERROR_CONTAINS(DataLoader(empty, options(2)), "loader: the dataset has no videos");
  DataLoader loader(data, options(2));
  Batch batch;
  EXPECT_ERROR_CONTAINS(loader.next(&batch), "next() called before start_epoch()");
}

}  // namespace
}  // namespace repflow
