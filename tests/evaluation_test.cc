// Validation metrics against answers known by construction and recomputed here in double.
#include "training/report/evaluation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/error.h"
#include "framework/generator.h"
#include "framework/tensor.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

// A row of `classes` logits, all different, in which `label` has rank `rank` (0 = largest).
std::vector<float> row_with_rank(int classes, int label, int rank) {
  std::vector<float> row(classes);
  // Descending values 0, -1, -2, ... handed out so the label gets the rank-th one.
  int next = 0;
  for (int c = 0; c < classes; ++c) {
    if (c == label) continue;
    if (next == rank) ++next;
    row[c] = -static_cast<float>(next++);
  }
  row[label] = -static_cast<float>(rank);
  return row;
}

double cross_entropy_of(const std::vector<float>& row, int label) {
  double sum = 0.0;
  for (float v : row) sum += std::exp(static_cast<double>(v));
  return -(row[label] - std::log(sum));
}

TEST(Evaluation, ClipTopKLossAndPerClassMatchTheConstruction) {
  const int classes = 7;  // top-k is top-5
  struct Clip {
    int label, rank;
  };
  const std::vector<Clip> clips = {{0, 0}, {1, 2}, {1, 5}, {2, 0}, {0, 6}, {3, 4}, {3, 1}};
  Evaluator eval(classes);
  double loss = 0.0;
  int top1 = 0, top5 = 0;
  std::vector<int> count(classes), correct(classes);
  // Two batches of different sizes, every clip its own video.
  for (size_t begin : {size_t{0}, size_t{3}}) {
    const size_t end = begin == 0 ? 3 : clips.size();
    std::vector<float> values;
    std::vector<int64_t> labels, videos;
    for (size_t i = begin; i < end; ++i) {
      const std::vector<float> row = row_with_rank(classes, clips[i].label, clips[i].rank);
      values.insert(values.end(), row.begin(), row.end());
      labels.push_back(clips[i].label);
      videos.push_back(static_cast<int64_t>(i));
      loss += cross_entropy_of(row, clips[i].label);
      top1 += clips[i].rank == 0;
      top5 += clips[i].rank < 5;
      ++count[clips[i].label];
      correct[clips[i].label] += clips[i].rank == 0;
    }
    eval.add(Tensor::from_vector({static_cast<int64_t>(end - begin), classes}, values), labels,
             videos);
  }
  const EvalResult r = eval.result();
  const double n = static_cast<double>(clips.size());
  EXPECT_EQ(r.clips, 7);
  EXPECT_EQ(r.videos, 7);
  EXPECT_EQ(r.top_k, 5);
  EXPECT_NEAR(r.loss, loss / n, 1e-5);
  EXPECT_DOUBLE_EQ(r.top1, top1 / n);
  EXPECT_DOUBLE_EQ(r.top5, top5 / n);
  EXPECT_DOUBLE_EQ(r.video_top1, r.top1);  // one clip per video
  EXPECT_DOUBLE_EQ(r.video_top5, r.top5);
  ASSERT_EQ(r.per_class.size(), static_cast<size_t>(classes));
  double class_mean = 0.0;
  int present = 0;
  for (int c = 0; c < classes; ++c) {
    EXPECT_EQ(r.per_class[c].count, count[c]) << "class " << c;
    EXPECT_EQ(r.per_class[c].correct, correct[c]) << "class " << c;
    if (count[c] > 0) {
      class_mean += static_cast<double>(correct[c]) / count[c];
      ++present;
    }
  }
  EXPECT_DOUBLE_EQ(r.mean_class_accuracy, class_mean / present);
}

// Video 0 (label 0): one confident right clip and one mildly wrong clip, so the averaged
// probabilities still pick class 0. Video 1 (label 2): both clips wrong.
TEST(Evaluation, VideoLevelAveragesProbabilitiesAcrossBatches) {
  Evaluator eval(3);
  eval.add(Tensor::from_vector({2, 3}, {5, 0, 0, /**/ 0, 1, 0}), {0, 0}, {10, 10});
  eval.add(Tensor::from_vector({2, 3}, {3, 0, 0, /**/ 0, 2, 0}), {2, 2}, {11, 11});
  const EvalResult r = eval.result();
  EXPECT_EQ(r.clips, 4);
  EXPECT_EQ(r.videos, 2);
  EXPECT_DOUBLE_EQ(r.top1, 0.25);  // only the confident clip of video 0
  EXPECT_DOUBLE_EQ(r.video_top1, 0.5);
  EXPECT_EQ(r.top_k, 3);  // min(5, classes): every label is in the top 3
  EXPECT_DOUBLE_EQ(r.top5, 1.0);
  EXPECT_DOUBLE_EQ(r.video_top5, 1.0);
}

// The same clip that flips video 0 above, but now the wrong clip is confident: the average
// follows it and the video is missed. Guards against a video score that is a vote of clips.
TEST(Evaluation, VideoLevelFollowsProbabilitiesNotVotes) {
  Evaluator confident_wrong(3), mild_wrong(3);
  confident_wrong.add(Tensor::from_vector({2, 3}, {1, 0, 0, /**/ 0, 6, 0}), {0, 0}, {4, 4});
  mild_wrong.add(Tensor::from_vector({2, 3}, {6, 0, 0, /**/ 0, 1, 0}), {0, 0}, {4, 4});
  EXPECT_DOUBLE_EQ(confident_wrong.result().video_top1, 0.0);
  EXPECT_DOUBLE_EQ(mild_wrong.result().video_top1, 1.0);
  EXPECT_DOUBLE_EQ(confident_wrong.result().top1, mild_wrong.result().top1);
}

// One clip sure of class 0, one sure it is not class 0 but torn between 1 and 2: the mean of
// the probabilities favours class 0 (0.49 against 0.25), the mean of the logits would not.
TEST(Evaluation, VideoLevelAveragesProbabilitiesNotLogits) {
  Evaluator eval(3);
  eval.add(Tensor::from_vector({2, 3}, {5, 0, 0, /**/ -30, 0, 0}), {0, 0}, {1, 1});
  EXPECT_DOUBLE_EQ(eval.result().video_top1, 1.0);
  EXPECT_DOUBLE_EQ(eval.result().top1, 0.5);
}

TEST(Evaluation, JsonCarriesEveryFieldUnderThePrefix) {
  Evaluator eval(2);
  eval.add(Tensor::from_vector({3, 2}, {1, 0, 0, 1, 1, 0}), {0, 0, 1}, {0, 1, 2});
  const EvalResult r = eval.result();
  const nlohmann::json j = r.to_json("val_");
  EXPECT_EQ(j.at("val_clips"), 3);
  EXPECT_DOUBLE_EQ(j.at("val_top1").get<double>(), r.top1);
  EXPECT_DOUBLE_EQ(j.at("val_loss").get<double>(), r.loss);
  EXPECT_DOUBLE_EQ(j.at("val_video_top1").get<double>(), r.video_top1);
  EXPECT_EQ(j.at("val_class_count"), nlohmann::json({2, 1}));
  EXPECT_EQ(j.at("val_class_correct"), nlohmann::json({1, 0}));
  EXPECT_FALSE(j.contains("top1"));
}

TEST(Evaluation, BadInputIsAnErrorAndLeavesTheTotalsAlone) {
  Evaluator eval(3);
  EXPECT_ERROR_CONTAINS(eval.result(), "no clips");
  EXPECT_ERROR_CONTAINS(eval.add(Tensor::zeros({2, 4}), {0, 0}, {0, 1}), "[2,4] are not (N, 3)");
  EXPECT_ERROR_CONTAINS(eval.add(Tensor::zeros({2, 3}), {0, 0}, {0}), "1 video indices for 2");
  EXPECT_ERROR_CONTAINS(eval.add(Tensor::zeros({2, 3}), {0, 3}, {0, 1}),
                        "label 3 of clip 1 is out of range");
  EXPECT_ERROR_CONTAINS(eval.add(Tensor::zeros({2, 3}), {0, 1}, {4, 4}),
                        "clip 1 of video 4 has label 1 but earlier clips of it have 0");
  eval.add(Tensor::zeros({1, 3}), {1}, {7});
  EXPECT_ERROR_CONTAINS(eval.add(Tensor::zeros({2, 3}), {0, 2}, {5, 7}),
                        "video 7 has label 2 but earlier clips of it have 1");
  EXPECT_EQ(eval.result().clips, 1);
  EXPECT_ERROR_CONTAINS(Evaluator(0), "at least 1");
}

// Every video's clips in index order, `batch` clips per add(), from position `first` in steps
// of `stride`: the shard of one process of `stride` (training/data/epoch_order.h's evaluation
// order).
Evaluator evaluate_shard(const std::vector<float>& logits, const std::vector<int64_t>& labels,
                         int classes, int clips_per_video, int64_t first, int64_t stride,
                         int64_t batch) {
  Evaluator eval(classes);
  const int64_t total = static_cast<int64_t>(labels.size()) * clips_per_video;
  std::vector<float> values;
  std::vector<int64_t> batch_labels, videos;
  for (int64_t p = first; p < total; p += stride) {
    values.insert(values.end(), logits.begin() + p * classes, logits.begin() + (p + 1) * classes);
    batch_labels.push_back(labels[p / clips_per_video]);
    videos.push_back(p / clips_per_video);
    if (static_cast<int64_t>(videos.size()) == batch || p + stride >= total) {
      eval.add(Tensor::from_vector({static_cast<int64_t>(videos.size()), classes}, values),
               batch_labels, videos);
      values.clear();
      batch_labels.clear();
      videos.clear();
    }
  }
  return eval;
}

// Three processes whose shards split every video's clips: the element-wise sum of their totals
// gives the result of one evaluator over everything, video-level accuracy included.
TEST(Evaluation, ShardTotalsSummedEqualTheUnshardedEvaluation) {
  const int classes = 6, clips_per_video = 3, shards = 3;
  const int64_t num_videos = 41;
  Generator gen(5);
  const std::vector<float> logits =
      Tensor::normal({num_videos * clips_per_video, classes}, 0.0f, 2.0f, gen).to_vector();
  std::vector<int64_t> labels;
  for (float u : Tensor::uniform({num_videos}, 0.0f, 1.0f, gen).to_vector())
    labels.push_back(std::min<int64_t>(classes - 1, static_cast<int64_t>(u * classes)));
  const EvalResult whole =
      evaluate_shard(logits, labels, classes, clips_per_video, 0, 1, 8).result();

  std::vector<double> sum;
  for (int k = 0; k < shards; ++k) {
    const std::vector<double> t =
        evaluate_shard(logits, labels, classes, clips_per_video, k, shards, 5 + k)
            .totals(num_videos);
    sum.resize(t.size());
    for (size_t i = 0; i < t.size(); ++i) sum[i] += t[i];
  }
  const Evaluator merged = Evaluator::from_totals(classes, num_videos, sum);
  EXPECT_EQ(merged.totals(num_videos), sum);
  const EvalResult r = merged.result();
  EXPECT_EQ(r.clips, whole.clips);
  EXPECT_EQ(r.videos, whole.videos);
  EXPECT_NEAR(r.loss, whole.loss, 1e-6 * whole.loss);
  EXPECT_DOUBLE_EQ(r.top1, whole.top1);
  EXPECT_DOUBLE_EQ(r.top5, whole.top5);
  EXPECT_DOUBLE_EQ(r.video_top1, whole.video_top1);
  EXPECT_DOUBLE_EQ(r.video_top5, whole.video_top5);
  EXPECT_DOUBLE_EQ(r.mean_class_accuracy, whole.mean_class_accuracy);
  ASSERT_EQ(r.per_class.size(), whole.per_class.size());
  for (int c = 0; c < classes; ++c) {
    EXPECT_EQ(r.per_class[c].count, whole.per_class[c].count) << c;
    EXPECT_EQ(r.per_class[c].correct, whole.per_class[c].correct) << c;
  }
  // The video level needs the summed probabilities: one shard's clips alone score differently.
  const EvalResult first_shard =
      evaluate_shard(logits, labels, classes, clips_per_video, 0, shards, 5).result();
  EXPECT_NE(first_shard.video_top1, whole.video_top1);
}

TEST(Evaluation, TotalsOfTheWrongSizeOrVideoAreErrors) {
  Evaluator eval(2);
  eval.add(Tensor::from_vector({1, 2}, {0, 1}), {1}, {3});
  EXPECT_ERROR_CONTAINS(eval.totals(3), "video index 3 is outside 0 ... 2");
  std::vector<double> t = eval.totals(4);
  EXPECT_ERROR_CONTAINS(Evaluator::from_totals(2, 5, t), "do not fit 2 classes and 5 videos");
  t[0] = -1;
  EXPECT_ERROR_CONTAINS(Evaluator::from_totals(2, 4, t), "total 0 (-1) is not a count");
}

}  // namespace
}  // namespace repflow
