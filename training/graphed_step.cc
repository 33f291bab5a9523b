#include "training/graphed_step.h"

#include "ops/loss/loss.h"

namespace repflow {

GraphedStep::GraphedStep(Module& model, Sgd& sgd, ParameterAverage& average, Device device)
    : model_(model),
      sgd_(sgd),
      average_(average),
      device_(device),
      averaging_(average.options().kind != AveragingKind::kNone) {
  RF_CHECK(device.is_cuda(), "--cuda-graph: records a GPU's work; the run is on ", device.str());
}

GraphedStep::Outputs GraphedStep::eager(const Tensor& clips, const std::vector<int64_t>& labels,
                                        double lr) {
  ++eager_steps_;
  Outputs out;
  sgd_.zero_grad();
  out.logits = model_.forward(clips.to(device_));
  out.loss = ops::cross_entropy(out.logits, labels);
  out.loss.backward();
  sgd_.step(lr);
  if (averaging_) average_.update();
  out.logits = out.logits.detach();
  out.loss = out.loss.detach();
  return out;
}

void GraphedStep::record(const Tensor& clips) {
  clips_ = Tensor::empty(clips.shape(), device_);
  labels_ = Tensor::empty({clips.size(0)}, device_);
  lr_ = Tensor::empty({1}, device_);
  rate_ = Tensor::empty({1}, device_);
  graph_ = std::make_unique<CudaGraph>(device_, [&] {
    sgd_.zero_grad();
    const Tensor logits = model_.forward(clips_);
    const Tensor loss = ops::device_cross_entropy(logits, labels_);
    loss.backward();
    sgd_.step(lr_);
    if (averaging_) average_.update(rate_);
    recorded_ = {logits.detach(), loss.detach()};
  });
}

GraphedStep::Outputs GraphedStep::step(const Tensor& clips, const std::vector<int64_t>& labels,
                                       double lr) {
  if (!graph_) {
    if (eager_steps_ == 0) return eager(clips, labels, lr);
    record(clips);
  }
  if (clips.shape() != clips_.shape()) return eager(clips, labels, lr);
  // Checked here, on the host: on the device a label out of range would only show as a NaN loss.
  const Tensor label_values = ops::label_tensor(labels, recorded_.logits.size(1));
  clips_.copy_(clips);
  labels_.copy_(label_values);
  lr_.fill_(static_cast<float>(lr));
  if (averaging_) rate_.fill_(static_cast<float>(average_.next_rate()));
  graph_->replay();
  ++replays_;
  return recorded_;
}

}  // namespace repflow
