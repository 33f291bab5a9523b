#pragma once
// Validation metrics accumulated batch by batch: mean cross-entropy, clip-level top-1/top-k,
// per-class accuracy, and video-level top-1/top-k from the softmax probabilities averaged over
// every clip of a video (how the paper scores HMDB-51 and Kinetics).
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/tensor.h"

namespace repflow {

struct ClassAccuracy {
  int64_t count = 0;    // clips whose label is this class
  int64_t correct = 0;  // of those, clips whose top-1 prediction is right
};

// Accuracies are fractions in [0, 1]. top_k is min(5, classes): "top5" means top-k.
struct EvalResult {
  int64_t clips = 0;
  int64_t videos = 0;
  int top_k = 0;
  double loss = 0.0;  // mean over clips of -log softmax(logits)[label]
  double top1 = 0.0;
  double top5 = 0.0;
  double video_top1 = 0.0;
  double video_top5 = 0.0;
  double mean_class_accuracy = 0.0;  // mean of correct/count over classes that have clips
  std::vector<ClassAccuracy> per_class;

  // {"clips", "videos", "top_k", "loss", "top1", "top5", "video_top1", "video_top5",
  //  "mean_class_accuracy", "class_count": [...], "class_correct": [...]}, every key preceded
  // by `prefix`: to_json("val_") gives the metrics.jsonl keys that training/report/chart.h plots.
  nlohmann::json to_json(const std::string& prefix = "") const;
};

class Evaluator {
 public:
  explicit Evaluator(int64_t num_classes);

  // logits (N, num_classes) on any device (copied to the host; no gradient is recorded),
  // labels and video indices N each. Clips of one video may arrive in different batches; a
  // video whose clips carry different labels, a label out of range or mismatched sizes are
  // Errors naming the batch entry.
  void add(const Tensor& logits, const std::vector<int64_t>& labels,
           const std::vector<int64_t>& videos);

  // Over everything added so far; an Error when nothing was added.
  EvalResult result() const;

  // The running totals as doubles, laid out so that the element-wise sum of the totals of
  // evaluators that saw disjoint shards of one validation set (each with its own batches) is the
  // totals of one evaluator that saw them all: several processes reduce them with one allreduce.
  // Videos are dense, one slot of num_classes + 2 per dataset index below `num_videos` (its clip
  // count, its label times that count, its probability sums), since one video's clips may be
  // evaluated on different processes: num_videos * (num_classes + 2) + 2 * num_classes + 4
  // doubles (HMDB-51: 80 K, Kinetics-400 val: 8 M). An Error if a video index added is not
  // below num_videos.
  std::vector<double> totals(int64_t num_videos) const;
  // The evaluator whose totals(num_videos) are `totals`; Errors name a wrong size, a negative
  // count or a video whose label sum is not its clip count times a class.
  static Evaluator from_totals(int64_t num_classes, int64_t num_videos,
                               const std::vector<double>& totals);

 private:
  struct Video {
    int64_t label = 0;
    int64_t clips = 0;
    std::vector<double> probability_sum;
  };

  int64_t num_classes_;
  int64_t clips_ = 0;
  double loss_sum_ = 0.0;
  int64_t top1_hits_ = 0, topk_hits_ = 0;
  std::vector<ClassAccuracy> per_class_;
  std::map<int64_t, Video> videos_;
};

}  // namespace repflow
