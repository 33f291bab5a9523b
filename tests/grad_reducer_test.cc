// GradReducer's buckets and their timing, through a communicator that records what it is asked
// to reduce (no MPI): the other rank is simulated as one whose gradients equal this rank's.
#include "training/distributed/grad_reducer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "framework/autograd.h"
#include "ops/elementwise/elementwise.h"
#include "ops/reduce/reduce.h"

namespace repflow {
namespace {

class DoneCollective : public PendingCollective {
 public:
  bool test() override { return true; }
  void wait() override {}
};

// A world of two whose other rank always contributes the same values: a sum doubles them.
class MirrorCommunicator : public Communicator {
 public:
  explicit MirrorCommunicator(std::vector<std::string>* log) : log_(log) {}
  int rank() const override { return 0; }
  int world_size() const override { return 2; }
  Device device() const override { return Device::cpu(); }
  std::unique_ptr<PendingCollective> allreduce_sum_async(const Tensor& t,
                                                         const std::string& what) override {
    log_->push_back(what + " of " + std::to_string(t.numel()));
    Tensor target = t.detach();
    target.add_(t.clone());
    return std::make_unique<DoneCollective>();
  }
  void broadcast(const Tensor&, int, const std::string&) override {}
  std::vector<double> allreduce_sum(const std::vector<double>& v, const std::string&) override {
    return v;
  }

 private:
  std::vector<std::string>* log_;
};

// Passes g through, logging when its backward runs.
Tensor probe(const Tensor& x, std::vector<std::string>* log) {
  return record("probe", x.detach().clone(), {x}, [log](const Tensor& g, const GradMask&) {
    log->push_back("probe");
    return std::vector<Tensor>{g};
  });
}

TEST(GradReducerTest, BucketsLastLayersFirstAndStartDuringBackward) {
  std::vector<std::string> log;
  MirrorCommunicator comm(&log);
  Tensor w1 = Tensor::full({300}, 0.5f).set_requires_grad();   // 1200 bytes
  Tensor w2 = Tensor::full({200}, 2.0f).set_requires_grad();   // 800 bytes
  Tensor w3 = Tensor::full({100}, -1.0f).set_requires_grad();  // 400 bytes
  Tensor unused = Tensor::zeros({10}).set_requires_grad();
  // 1 KB buckets filled from the last parameter: {unused, w3, w2} reaches 1240 bytes, then {w1}.
  GradReducer reducer({w1, w2, w3, unused}, comm, 1.0 / 1024);
  ASSERT_EQ(reducer.bucket_count(), 2);
  EXPECT_EQ(reducer.bucket_params(0), (std::vector<int64_t>{3, 2, 1}));
  EXPECT_EQ(reducer.bucket_params(1), (std::vector<int64_t>{0}));

  const Tensor x = Tensor::full({300}, 3.0f);
  // w1 is used first in forward, so its gradient is final last, after the probe's backward.
  const Tensor h = probe(ops::sum(x * w1) * Tensor::ones({100}), &log);
  const Tensor loss = ops::sum(h * w3) + ops::sum(w2 * w2);
  reducer.backward(loss);
  // `unused` is only reported at the end of the pass, so bucket 0 waits for it.
  EXPECT_EQ(log, (std::vector<std::string>{"probe", "gradient bucket 0 of 310",
                                           "gradient bucket 1 of 300"}));

  // The average of two equal gradients is the gradient: check against plain backward.
  Tensor v1 = w1.detach().clone().set_requires_grad(), v2 = w2.detach().clone().set_requires_grad();
  Tensor v3 = w3.detach().clone().set_requires_grad();
  (ops::sum(ops::sum(x * v1) * Tensor::ones({100}) * v3) + ops::sum(v2 * v2)).backward();
  EXPECT_EQ(w1.grad().to_vector(), v1.grad().to_vector());
  EXPECT_EQ(w2.grad().to_vector(), v2.grad().to_vector());
  EXPECT_EQ(w3.grad().to_vector(), v3.grad().to_vector());
  EXPECT_EQ(unused.grad().to_vector(), std::vector<float>(10, 0.0f));
}

TEST(GradReducerTest, BucketStartsBeforeTheRestOfBackward) {
  std::vector<std::string> log;
  MirrorCommunicator comm(&log);
  Tensor first = Tensor::full({4}, 1.0f).set_requires_grad();
  Tensor last = Tensor::full({4}, 2.0f).set_requires_grad();
  // Tiny buckets: one parameter each, `last` in bucket 0.
  GradReducer reducer({first, last}, comm, 1e-6);
  reducer.backward(ops::sum(probe(first * 2.0f, &log) * last));
  EXPECT_EQ(
      log, (std::vector<std::string>{"gradient bucket 0 of 4", "probe", "gradient bucket 1 of 4"}));
}

TEST(GradReducerTest, Errors) {
  std::vector<std::string> log;
  MirrorCommunicator comm(&log);
  const Tensor plain = Tensor::ones({2});
  EXPECT_THROW(GradReducer({plain}, comm), Error);
  Tensor p = Tensor::ones({2}).set_requires_grad();
  EXPECT_THROW(GradReducer({p, p}, comm), Error);
  EXPECT_THROW(GradReducer({p}, comm, 0.0), Error);
}

}  // namespace
}  // namespace repflow
