#pragma once
// What the training loop needs of a data-parallel run, as hooks, so that //training stays free
// of MPI: //training:train fills them from a Communicator and a GradReducer (README,
// "Distributed training"). The defaults are one process alone.
#include <functional>
#include <vector>

#include "framework/tensor.h"
#include "models/module.h"

namespace repflow {

struct DataParallel {
  int rank = 0;
  int world_size = 1;
  // loss.backward(), after which every parameter's grad is the average over the processes of
  // the gradients of their local losses.
  std::function<void(const Tensor& loss)> backward = [](const Tensor& loss) { loss.backward(); };
  // Replaces `values` by their element-wise sums over the processes (counts, loss sums).
  std::function<void(std::vector<double>& values)> reduce_sums = [](std::vector<double>&) {};
  // Overwrites the tensors with the root's values: buffers that each process updated from its
  // own batches (batch-norm statistics) become the same everywhere before they are used.
  std::function<void(const NamedTensors& tensors)> broadcast = [](const NamedTensors&) {};

  // The process that prints and writes the run directory.
  bool root() const { return rank == 0; }
};

}  // namespace repflow
