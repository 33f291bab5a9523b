#pragma once
// The start of data-parallel training: every rank takes rank `root`'s parameters and buffers,
// so that the replicas begin identical whatever each rank's initialisation drew.
#include "models/module.h"
#include "training/distributed/communicator.h"

namespace repflow {

void broadcast_module(const Module& module, Communicator& comm, int root = 0);
// Any tensors, listed in the same order on every rank (the names go into error messages).
void broadcast_tensors(const NamedTensors& tensors, Communicator& comm, int root = 0);

}  // namespace repflow
