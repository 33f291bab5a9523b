#pragma once
// The ranks of a data-parallel job must be started alike: ranks whose learning rate, seed, batch
// size, model or data differ would post collectives of other sizes (a crash inside MPI) or train
// different things under one run directory without a word. Compared once at the start, before
// any other collective and before anything is written.
#include <map>
#include <string>

#include "training/distributed/communicator.h"

namespace repflow {

// Compares every rank's `settings` (name -> value) with rank 0's. When any rank's differ, every
// rank fails with the same Error, naming each differing rank's first differences ("rank 1:
// --lr '0.5' (rank 0: '0.1')", `prefix` before each name). `what` names the comparison
// ("flags", "data").
void check_same_settings(Communicator& comm, const std::map<std::string, std::string>& settings,
                         const std::string& what, const std::string& prefix = "");

}  // namespace repflow
