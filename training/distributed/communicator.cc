#include "training/distributed/communicator.h"

#include "framework/error.h"

namespace repflow {

void Communicator::allreduce_sum(const Tensor& t, const std::string& what) {
  allreduce_sum_async(t, what)->wait();
}

void check_collective_tensor(const Communicator& comm, const Tensor& t, const std::string& what) {
  RF_CHECK(t.defined(), "distributed: ", what, ": the tensor is undefined");
  RF_CHECK(t.is_contiguous(), "distributed: ", what, ": the tensor of shape ", shape_str(t.shape()),
           " is not contiguous");
  RF_CHECK(t.device() == comm.device(), "distributed: ", what, ": the tensor is on ",
           t.device().str(), " but this communicator works on ", comm.device().str());
}

}  // namespace repflow
