#pragma once
// Softmax, log-softmax, cross-entropy and accuracy.
#include <vector>

#include "framework/tensor.h"

namespace repflow::ops {

// Along `dim` (negative counts from the end), stable for any magnitude of logits: each row is
// shifted by its maximum before exp.
Tensor softmax(const Tensor& x, int dim);
Tensor log_softmax(const Tensor& x, int dim);

// logits (N, C), labels N integers in [0, C): mean over the batch of -log p[label], with label
// smoothing s: target = (1 - s) one_hot + s / C. A label out of range is an Error naming it.
Tensor cross_entropy(const Tensor& logits, const std::vector<int64_t>& labels,
                     float label_smoothing = 0.0f);
// cross_entropy with the labels in a tensor (N) on the logits' device, as label_tensor makes
// them (a step recorded as a CUDA graph writes them there before each replay): the same loss
// and gradient, bit for bit. They are not checked on the device: a label outside [0, C), or not
// a whole number, makes the loss NaN.
Tensor device_cross_entropy(const Tensor& logits, const Tensor& labels,
                            float label_smoothing = 0.0f);
// `labels` as the (N) float tensor device_cross_entropy takes, after cross_entropy's checks that
// each is in [0, classes).
Tensor label_tensor(const std::vector<int64_t>& labels, int64_t classes);

// Fraction (0..1) of rows whose label is among the k largest logits; ties count as hits when
// the label's logit equals the k-th largest. No gradient. k above C counts every row as a hit
// (as if k were C); k < 1, an empty batch and a label out of range are Errors. A NaN logit at
// the label is a miss. Computed on the host.
float topk_accuracy(const Tensor& logits, const std::vector<int64_t>& labels, int k);

// The per-row hits that topk_accuracy averages (same rules, same Errors), for callers that
// split the hits by class or video.
std::vector<bool> topk_hits(const Tensor& logits, const std::vector<int64_t>& labels, int k);

}  // namespace repflow::ops
