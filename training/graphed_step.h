#pragma once
// The trainer's step as a CUDA graph (--cuda-graph; framework/cuda_graph.h): forward,
// cross-entropy, backward, the SGD step and the average's update, recorded once and replayed for
// every batch after. What changes from step to step lives on the device and is written before
// each step: the clips, the labels, the learning rate and the average's rate. The first step
// runs eagerly with host labels (it tells the class count and makes the momentum buffers); the
// second runs the recorded step's code eagerly (it chooses the algorithms and loads every kernel
// the recording launches, since loading one while recording could fail); the third is recorded,
// then replayed, as is every later batch. A batch of another shape than the recorded one runs
// eagerly; before the recording, a batch of a new shape starts the warm-up again at that shape.
//
// One process, on a GPU, without gradient clipping or dropout (their host-side values would be
// replayed unchanged).
#include <cstdint>
#include <memory>
#include <vector>

#include "framework/cuda_graph.h"
#include "framework/tensor.h"
#include "models/module.h"
#include "training/optim/averaging.h"
#include "training/optim/sgd.h"

namespace repflow {

class GraphedStep {
 public:
  // Averages with `average` unless its kind is kNone. All three must outlive this.
  GraphedStep(Module& model, Sgd& sgd, ParameterAverage& average, Device device);

  // A step's outputs: valid until the next step.
  struct Outputs {
    Tensor logits;
    Tensor loss;
  };
  // One training step on `clips` (a CPU or device tensor) and `labels` at learning rate `lr`.
  Outputs step(const Tensor& clips, const std::vector<int64_t>& labels, double lr);

  // Steps run eagerly so far and steps replayed.
  int64_t eager_steps() const { return eager_steps_; }
  int64_t replays() const { return replays_; }

 private:
  // The step with host labels and learning rate, for the very first batch (which tells the
  // class count) and batches of another shape than the recorded one.
  Outputs eager(const Tensor& clips, const std::vector<int64_t>& labels, double lr);
  // Writes what changes per step into the device tensors the recorded step reads.
  void write_inputs(const Tensor& clips, const std::vector<int64_t>& labels, double lr);
  // The recorded step: from those tensors to outputs_.
  void run();

  Module& model_;
  Sgd& sgd_;
  ParameterAverage& average_;
  Device device_;
  bool averaging_;
  int64_t classes_ = 0;  // the logits' width, once a step has run
  // The recorded step's inputs, written in place before each replay, and its outputs.
  Tensor clips_, labels_, lr_, rate_;
  Outputs outputs_;
  bool warmed_ = false;  // run() has run eagerly
  std::unique_ptr<CudaGraph> graph_;
  int64_t eager_steps_ = 0, replays_ = 0;
};

}  // namespace repflow
