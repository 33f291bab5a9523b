#include "ops/loss/loss.h"

#include <algorithm>
#include <cmath>

#include "framework/autograd.h"
#include "ops/dispatch.h"
#include "ops/elementwise/elementwise.h"
#include "ops/loss/loss_kernels.h"
#include "ops/op_common.h"
#include "ops/reduce/reduce.h"
#include "ops/slice/slice.h"
#include "ops/view/view.h"

namespace repflow::ops {

namespace {

// The softmax schedules by device (ops/dispatch.h).
const DispatchStub<void(bool, const float*, float*, SoftmaxShape)> softmax_stub{
    "softmax", softmax_cpu, RF_CUDA_SCHEDULE(softmax_cuda)};
const DispatchStub<void(bool, const float*, const float*, float*, SoftmaxShape)> softmax_grad_stub{
    "softmax backward", softmax_grad_cpu, RF_CUDA_SCHEDULE(softmax_grad_cuda)};

}  // namespace
namespace {

SoftmaxShape softmax_shape(const Shape& shape, int dim) {
  SoftmaxShape s{1, shape[dim], 1};
  for (int d = 0; d < dim; ++d) s.outer *= shape[d];
  for (size_t d = dim + 1; d < shape.size(); ++d) s.inner *= shape[d];
  return s;
}

// softmax or log_softmax: the kernels read contiguous tensors, so a strided input or output
// gradient is packed first.
Tensor softmax_op(bool log, const char* name, const Tensor& x, int dim) {
  const SoftmaxShape s = softmax_shape(x.shape(), normalize_dim(name, dim, x.dim()));
  const Tensor xc = x.detach().contiguous();
  Tensor y = Tensor::empty(x.shape(), x.device());
  softmax_stub(x.device(), log, xc.data(), y.data(), s);
  const Tensor saved_y = y.detach();
  return record(name, y, {x}, [log, saved_y, s](const Tensor& g, const GradMask&) {
    const Tensor gc = g.contiguous();
    Tensor gx = Tensor::empty(g.shape(), g.device());
    softmax_grad_stub(g.device(), log, saved_y.data(), gc.data(), gx.data(), s);
    return std::vector<Tensor>{gx};
  });
}

// Shared checks of the classification losses: logits (N, C), N labels in [0, C), a smoothing in
// [0, 1].
void check_logits(const char* op, const Tensor& logits) {
  RF_CHECK(logits.dim() == 2, op, ": logits of shape ", shape_str(logits.shape()),
           " are not (N, C)");
}

void check_label_range(const char* op, int64_t classes, const std::vector<int64_t>& labels) {
  for (size_t i = 0; i < labels.size(); ++i)
    RF_CHECK(labels[i] >= 0 && labels[i] < classes, op, ": label ", labels[i], " out of range for ",
             classes, " classes (sample ", i, ")");
}

void check_labels(const char* op, const Tensor& logits, const std::vector<int64_t>& labels) {
  check_logits(op, logits);
  const int64_t n = logits.size(0);
  RF_CHECK(static_cast<int64_t>(labels.size()) == n, op, ": ", labels.size(), " labels for ", n,
           " samples (logits of shape ", shape_str(logits.shape()), ")");
  check_label_range(op, logits.size(1), labels);
}

void check_smoothing(float label_smoothing) {
  RF_CHECK(label_smoothing >= 0.0f && label_smoothing <= 1.0f, "cross_entropy: label_smoothing ",
           label_smoothing, " is outside [0, 1]");
}

// With lp = log_softmax(logits), the smoothed target makes the loss
//   -(1 - s) mean_n lp[n, label_n] - (s / C) mean_n sum_c lp[n, c]
// and the second term is -s times the mean of all of lp. `picked` holds lp[n, label_n].
Tensor smoothed_loss(const Tensor& lp, const Tensor& picked, float label_smoothing) {
  Tensor loss = mul(mean(picked), label_smoothing - 1.0f);
  if (label_smoothing > 0.0f) loss = sub(loss, mul(mean(lp), label_smoothing));
  return loss;
}

}  // namespace

Tensor softmax(const Tensor& x, int dim) { return softmax_op(false, "softmax", x, dim); }
Tensor log_softmax(const Tensor& x, int dim) { return softmax_op(true, "log_softmax", x, dim); }

Tensor cross_entropy(const Tensor& logits, const std::vector<int64_t>& labels,
                     float label_smoothing) {
  check_labels("cross_entropy", logits, labels);
  check_smoothing(label_smoothing);
  const int64_t n = logits.size(0), c = logits.size(1);
  std::vector<int64_t> picks(n);
  for (int64_t i = 0; i < n; ++i) picks[i] = i * c + labels[i];
  const Tensor lp = log_softmax(logits, 1);
  return smoothed_loss(lp, index_select(reshape(lp, {n * c}), 0, picks), label_smoothing);
}

// The picked log-probabilities as sum over classes of lp * one_hot: adding exact zeros to the
// one picked value, and its gradient one_hot * g, are exact, so the loss and the gradient are
// the index_select version's bits. Dividing by the number of matches (1) turns a label that
// matches no class into 0 / 0, a NaN.
Tensor device_cross_entropy(const Tensor& logits, const Tensor& labels, float label_smoothing) {
  check_logits("cross_entropy", logits);
  const int64_t n = logits.size(0), c = logits.size(1);
  RF_CHECK(labels.shape() == Shape{n}, "cross_entropy: labels of shape ", shape_str(labels.shape()),
           " for logits of shape ", shape_str(logits.shape()));
  RF_CHECK(labels.device() == logits.device(), "cross_entropy: labels on ", labels.device().str(),
           " for logits on ", logits.device().str());
  check_smoothing(label_smoothing);
  const Tensor classes =
      reshape(Tensor::arange(0.0f, static_cast<float>(c), 1.0f, logits.device()), {1, c});
  const Tensor one_hot = eq(reshape(labels.detach(), {n, 1}), classes);
  const Tensor lp = log_softmax(logits, 1);
  return smoothed_loss(lp, div(sum(mul(lp, one_hot), {1}), sum(one_hot, {1})), label_smoothing);
}

Tensor label_tensor(const std::vector<int64_t>& labels, int64_t classes) {
  check_label_range("cross_entropy", classes, labels);
  const std::vector<float> values(labels.begin(), labels.end());
  return Tensor::from_vector({static_cast<int64_t>(values.size())}, values);
}

std::vector<bool> topk_hits(const Tensor& logits, const std::vector<int64_t>& labels, int k) {
  check_labels("topk_accuracy", logits, labels);
  RF_CHECK(k >= 1, "topk_accuracy: k must be at least 1, got ", k);
  const int64_t n = logits.size(0), c = logits.size(1);
  RF_CHECK(n > 0, "topk_accuracy: no samples (logits of shape ", shape_str(logits.shape()), ")");
  const std::vector<float> values = logits.to_vector();
  std::vector<bool> hits(n);
  for (int64_t i = 0; i < n; ++i) {
    const float* row = values.data() + i * c;
    const float target = row[labels[i]];
    // The label is among the k largest when fewer than k logits beat it strictly, which is how
    // ties at the k-th place count as hits.
    const int64_t above = std::count_if(row, row + c, [target](float v) { return v > target; });
    hits[i] = !std::isnan(target) && above < k;
  }
  return hits;
}

float topk_accuracy(const Tensor& logits, const std::vector<int64_t>& labels, int k) {
  const std::vector<bool> hits = topk_hits(logits, labels, k);
  const auto n = static_cast<int64_t>(hits.size());
  return static_cast<float>(std::count(hits.begin(), hits.end(), true)) / static_cast<float>(n);
}

}  // namespace repflow::ops
