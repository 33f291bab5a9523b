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
  classes_ = out.logits.size(1);
  out.loss = ops::cross_entropy(out.logits, labels);
  out.loss.backward();
  sgd_.step(lr);
  if (averaging_) average_.update();
  out.logits = out.logits.detach();
  out.loss = out.loss.detach();
  return out;
}

void GraphedStep::write_inputs(const Tensor& clips, const std::vector<int64_t>& labels, double lr) {
  if (!clips_.defined()) {
    clips_ = Tensor::empty(clips.shape(), device_);
    labels_ = Tensor::empty({clips.size(0)}, device_);
    lr_ = Tensor::empty({1}, device_);
    rate_ = Tensor::empty({1}, device_);
  }
  // Checked here, on the host: on the device a label out of range would only show as a NaN
  // loss. The class count is the model's, from the first step's logits.
  labels_.copy_(ops::label_tensor(labels, classes_));
  clips_.copy_(clips);
  lr_.fill_(static_cast<float>(lr));
  if (averaging_) rate_.fill_(static_cast<float>(average_.next_rate()));
}

void GraphedStep::run() {
  sgd_.zero_grad();
  const Tensor logits = model_.forward(clips_);
  const Tensor loss = ops::device_cross_entropy(logits, labels_);
  loss.backward();
  sgd_.step(lr_);
  if (averaging_) average_.update(rate_);
  outputs_ = {logits.detach(), loss.detach()};
}

GraphedStep::Outputs GraphedStep::step(const Tensor& clips, const std::vector<int64_t>& labels,
                                       double lr) {
  if (classes_ == 0) return eager(clips, labels, lr);
  if (clips_.defined() && clips.shape() != clips_.shape()) {
    if (graph_) return eager(clips, labels, lr);
    // Not recorded yet: the shape to record is this batch's (a short batch before it, at an
    // epoch's end say, should not fix the shape of every replay).
    clips_ = Tensor();
    warmed_ = false;
  }
  write_inputs(clips, labels, lr);
  if (!graph_ && !warmed_) {
    // The recorded step's own code, run once eagerly: it makes the momentum buffers, chooses
    // the algorithms and loads every kernel the recording will launch.
    run();
    warmed_ = true;
    ++eager_steps_;
    return outputs_;
  }
  if (!graph_) graph_ = std::make_unique<CudaGraph>(device_, [&] { run(); });
  graph_->replay();
  ++replays_;
  return outputs_;
}

}  // namespace repflow
