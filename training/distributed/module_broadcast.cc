#include "training/distributed/module_broadcast.h"

#include "framework/autograd.h"

namespace repflow {

void broadcast_module(const Module& module, Communicator& comm, int root) {
  broadcast_tensors(module.state_dict(), comm, root);
}

void broadcast_tensors(const NamedTensors& tensors, Communicator& comm, int root) {
  NoGradGuard no_grad;
  for (const auto& [name, tensor] : tensors) {
    // A strided tensor goes through a contiguous copy written back afterwards.
    const bool direct = tensor.is_contiguous() && tensor.device() == comm.device();
    const Tensor buffer = direct ? tensor.detach() : tensor.to(comm.device()).contiguous();
    comm.broadcast(buffer, root, "broadcast of " + name);
    if (!direct) {
      Tensor target = tensor.detach();
      target.copy_(buffer);
    }
  }
}

}  // namespace repflow
