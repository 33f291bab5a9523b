#include "training/report/evaluation.h"

#include <algorithm>
#include <cmath>

#include "framework/error.h"
#include "ops/loss/loss.h"

namespace repflow {
namespace {

int top_k_for(int64_t num_classes) { return static_cast<int>(std::min<int64_t>(5, num_classes)); }

int64_t count_hits(const std::vector<bool>& hits) {
  return std::count(hits.begin(), hits.end(), true);
}

}  // namespace

nlohmann::json EvalResult::to_json(const std::string& prefix) const {
  nlohmann::json counts = nlohmann::json::array(), correct = nlohmann::json::array();
  for (const ClassAccuracy& c : per_class) {
    counts.push_back(c.count);
    correct.push_back(c.correct);
  }
  return {{prefix + "clips", clips},
          {prefix + "videos", videos},
          {prefix + "top_k", top_k},
          {prefix + "loss", loss},
          {prefix + "top1", top1},
          {prefix + "top5", top5},
          {prefix + "video_top1", video_top1},
          {prefix + "video_top5", video_top5},
          {prefix + "mean_class_accuracy", mean_class_accuracy},
          {prefix + "class_count", counts},
          {prefix + "class_correct", correct}};
}

Evaluator::Evaluator(int64_t num_classes) : num_classes_(num_classes) {
  RF_CHECK(num_classes >= 1, "Evaluator: num_classes must be at least 1, got ", num_classes);
  per_class_.resize(num_classes);
}

void Evaluator::add(const Tensor& logits, const std::vector<int64_t>& labels,
                    const std::vector<int64_t>& videos) {
  RF_CHECK(logits.dim() == 2 && logits.size(1) == num_classes_, "Evaluator: logits of shape ",
           shape_str(logits.shape()), " are not (N, ", num_classes_, ")");
  const int64_t n = logits.size(0);
  RF_CHECK(static_cast<int64_t>(videos.size()) == n, "Evaluator: ", videos.size(),
           " video indices for ", n, " clips");
  RF_CHECK(static_cast<int64_t>(labels.size()) == n, "Evaluator: ", labels.size(), " labels for ",
           n, " clips");
  std::map<int64_t, int64_t> batch_labels;  // videos first seen in this batch
  for (int64_t i = 0; i < n; ++i) {
    RF_CHECK(labels[i] >= 0 && labels[i] < num_classes_, "Evaluator: label ", labels[i],
             " of clip ", i, " is out of range for ", num_classes_, " classes");
    const auto known = videos_.find(videos[i]);
    const int64_t expected = known != videos_.end()
                                 ? known->second.label
                                 : batch_labels.emplace(videos[i], labels[i]).first->second;
    RF_CHECK(expected == labels[i], "Evaluator: clip ", i, " of video ", videos[i], " has label ",
             labels[i], " but earlier clips of it have ", expected);
  }
  if (n == 0) return;
  const Tensor host = logits.detach().to(Device::cpu());
  const std::vector<bool> top1 = ops::topk_hits(host, labels, 1);
  const std::vector<bool> topk = ops::topk_hits(host, labels, top_k_for(num_classes_));
  const std::vector<float> probs = ops::softmax(host, 1).to_vector();
  loss_sum_ += static_cast<double>(ops::cross_entropy(host, labels).item()) * n;
  top1_hits_ += count_hits(top1);
  topk_hits_ += count_hits(topk);
  clips_ += n;
  for (int64_t i = 0; i < n; ++i) {
    ClassAccuracy& c = per_class_[labels[i]];
    ++c.count;
    c.correct += top1[i];
    Video& v = videos_[videos[i]];
    v.label = labels[i];
    ++v.clips;
    v.probability_sum.resize(num_classes_);
    for (int64_t j = 0; j < num_classes_; ++j) v.probability_sum[j] += probs[i * num_classes_ + j];
  }
}

EvalResult Evaluator::result() const {
  RF_CHECK(clips_ > 0, "Evaluator: no clips were evaluated");
  EvalResult r;
  r.clips = clips_;
  r.videos = static_cast<int64_t>(videos_.size());
  r.top_k = top_k_for(num_classes_);
  r.loss = loss_sum_ / clips_;
  r.top1 = static_cast<double>(top1_hits_) / clips_;
  r.top5 = static_cast<double>(topk_hits_) / clips_;
  r.per_class = per_class_;
  int64_t present = 0;
  for (const ClassAccuracy& c : per_class_) {
    if (c.count == 0) continue;
    r.mean_class_accuracy += static_cast<double>(c.correct) / c.count;
    ++present;
  }
  r.mean_class_accuracy /= present;
  // Dividing the sums by the clip count would not change the ranking, so the sums are scored
  // as they are.
  std::vector<float> sums;
  std::vector<int64_t> labels;
  for (const auto& [id, v] : videos_) {
    sums.insert(sums.end(), v.probability_sum.begin(), v.probability_sum.end());
    labels.push_back(v.label);
  }
  const Tensor video_scores = Tensor::from_vector({r.videos, num_classes_}, sums);
  r.video_top1 =
      static_cast<double>(count_hits(ops::topk_hits(video_scores, labels, 1))) / r.videos;
  r.video_top5 =
      static_cast<double>(count_hits(ops::topk_hits(video_scores, labels, r.top_k))) / r.videos;
  return r;
}

std::vector<double> Evaluator::totals(int64_t num_videos) const {
  std::vector<double> t = {static_cast<double>(clips_), loss_sum_, static_cast<double>(top1_hits_),
                           static_cast<double>(topk_hits_)};
  for (const ClassAccuracy& c : per_class_) {
    t.push_back(static_cast<double>(c.count));
    t.push_back(static_cast<double>(c.correct));
  }
  const size_t videos_at = t.size();
  const int64_t slot = num_classes_ + 2;
  t.resize(videos_at + num_videos * slot);
  for (const auto& [id, v] : videos_) {
    RF_CHECK(id >= 0 && id < num_videos, "Evaluator: video index ", id, " is outside 0 ... ",
             num_videos - 1);
    double* s = &t[videos_at + id * slot];
    s[0] = static_cast<double>(v.clips);
    s[1] = static_cast<double>(v.label * v.clips);
    std::copy(v.probability_sum.begin(), v.probability_sum.end(), s + 2);
  }
  return t;
}

Evaluator Evaluator::from_totals(int64_t num_classes, int64_t num_videos,
                                 const std::vector<double>& totals) {
  Evaluator e(num_classes);
  const int64_t slot = num_classes + 2, videos_at = 4 + 2 * num_classes;
  RF_CHECK(num_videos >= 0 && static_cast<int64_t>(totals.size()) == videos_at + num_videos * slot,
           "Evaluator: ", totals.size(), " totals do not fit ", num_classes, " classes and ",
           num_videos, " videos");
  const auto count = [&](int64_t i) {
    const double v = totals[i];
    RF_CHECK(v >= 0 && v == std::floor(v), "Evaluator: total ", i, " (", v, ") is not a count");
    return static_cast<int64_t>(v);
  };
  e.clips_ = count(0);
  e.loss_sum_ = totals[1];
  e.top1_hits_ = count(2);
  e.topk_hits_ = count(3);
  for (int64_t c = 0; c < num_classes; ++c) e.per_class_[c] = {count(4 + 2 * c), count(5 + 2 * c)};
  for (int64_t id = 0; id < num_videos; ++id) {
    const int64_t at = videos_at + id * slot;
    const int64_t clips = count(at);
    if (clips == 0) continue;
    const int64_t label_sum = count(at + 1);
    RF_CHECK(label_sum % clips == 0 && label_sum / clips < num_classes, "Evaluator: video ", id,
             " has clips with different labels");
    Video& v = e.videos_[id];
    v.clips = clips;
    v.label = label_sum / clips;
    v.probability_sum.assign(totals.begin() + at + 2, totals.begin() + at + slot);
  }
  return e;
}

}  // namespace repflow
