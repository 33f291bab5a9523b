#pragma once
// --sync-bn: every BatchNorm of a model normalises, in training mode, with the statistics of
// the batch made of all processes' batches (ops::sync_batch_norm), allreduced through `comm`.
#include "models/module.h"
#include "training/distributed/communicator.h"

namespace repflow {

// `comm` must outlive the model's training-mode forward and backward passes. Returns the
// number of BatchNorm modules switched.
int enable_sync_batch_norm(Module& model, Communicator& comm);

}  // namespace repflow
