#include "training/distributed/sync_batch_norm.h"

#include "models/layers.h"

namespace repflow {

int enable_sync_batch_norm(Module& model, Communicator& comm) {
  int switched = 0;
  model.apply([&](Module& m) {
    auto* bn = dynamic_cast<BatchNorm*>(&m);
    if (!bn) return;
    bn->set_sync([&comm](const Tensor& sums) { comm.allreduce_sum(sums, "sync batch norm"); });
    ++switched;
  });
  return switched;
}

}  // namespace repflow
