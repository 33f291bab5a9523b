// framework/cuda_graph.h on a GPU: a recorded training step replays like the eager step (also as
// the trainer records it, training/graphed_step.h), a step that reads values back to the host
// fails to record with a message and leaves the device usable, and the memory a graph uses is
// not handed to anything outside it.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "framework/allocator.h"
#include "framework/cuda_graph.h"
#include "models/registry.h"
#include "ops/elementwise/elementwise.h"
#include "ops/loss/loss.h"
#include "ops/reduce/reduce.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/test_util.h"
#include "training/graphed_step.h"
#include "training/optim/averaging.h"
#include "training/optim/sgd.h"

namespace repflow {
namespace {

using testing::random_leaf;
using testing::relative_error;
using testing::skip_without_gpu;

const Device kGpu = Device::cuda(0);

std::vector<float> parameters(const Module& net) {
  std::vector<float> all;
  for (const auto& [name, p] : net.named_parameters()) {
    const std::vector<float> v = p.to_vector();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

// A model, its optimiser and average, and a fixed batch: the trainer's step in miniature.
struct Training {
  std::shared_ptr<Module> net;
  Sgd sgd;
  ParameterAverage average;
  Tensor x;
  std::vector<int64_t> labels = {0, 1, 2, 3};

  // With `from`, the model starts from its weights (before the average copies them).
  explicit Training(const std::string& flow, const Module* from = nullptr)
      : net(gpu_model(flow, from)),
        sgd(make_param_groups(net->named_parameters(), {}, 1e-4, true), {0.9, 0.0, true}),
        average(*net, ema()),
        x(random_leaf({4, 3, 8, 32, 32}, 3).detach().to(kGpu)) {
    net->train();
  }
  static std::shared_ptr<Module> gpu_model(const std::string& flow, const Module* from) {
    auto net = make_model(resolve_model("resnet10_2d_tiny", {{"classes", "4"}, {"flow", flow}}));
    net->to(kGpu);
    if (from) {
      const NamedTensors state = from->state_dict();
      net->load_state_dict(std::map<std::string, Tensor>(state.begin(), state.end()));
    }
    return net;
  }
  static AveragingOptions ema() {
    AveragingOptions o;
    o.kind = AveragingKind::kEma;
    o.decay = 0.99;
    o.ema_warmup = true;
    return o;
  }
  void step() {
    sgd.zero_grad();
    ops::cross_entropy(net->forward(x), labels).backward();
    sgd.step(0.05);
    average.update();
  }
};

// With and without the flow layer, whose parameters stay on the device (ops/flow/flow.h).
TEST(CudaGraphGpu, ReplaysTrainLikeTheEagerStep) {
  if (skip_without_gpu()) GTEST_SKIP();
  for (const std::string flow : {"none", "after2"}) {
    SCOPED_TRACE("flow " + flow);
    Training eager(flow), graphed(flow, eager.net.get());
    eager.step();  // makes the momentum buffers and chooses the algorithms
    graphed.step();
    const std::vector<float> before = parameters(*graphed.net);
    const CudaGraph step(kGpu, [&] { graphed.step(); });
    EXPECT_EQ(relative_error(parameters(*graphed.net), before), 0.0) << "recording ran the step";
    for (int i = 0; i < 3; ++i) {
      eager.step();
      step.replay();
    }
    const std::vector<float> want = parameters(*eager.net), got = parameters(*graphed.net);
    EXPECT_GT(relative_error(got, before), 1e-4) << "the replays did not train";
    // cuDNN's weight gradients sum with atomics: the two runs round differently.
    EXPECT_LT(relative_error(got, want), 1e-4);
  }
}

TEST(CudaGraphGpu, AStepThatReadsTheHostFailsToRecordAndTheDeviceStaysUsable) {
  if (skip_without_gpu()) GTEST_SKIP();
  const Tensor a = Tensor::full({1000}, 2.0f, kGpu);
  EXPECT_ERROR_CONTAINS(CudaGraph(kGpu, [&] { ops::sum(a).item(); }),
                        "cuda graph: the step could not be recorded on cuda:0");
  EXPECT_FLOAT_EQ(ops::sum(ops::mul(a, a)).item(), 4000.0f);
  Training plain("none");
  plain.step();
  EXPECT_ERROR_CONTAINS(
      CudaGraph(kGpu,
                [&] { ops::cross_entropy(plain.net->forward(plain.x), plain.labels).item(); }),
      "could not be recorded");
  plain.step();
}

// Host values copied to the device while recording (index lists, Tensor::from_vector, arange)
// are the graph's own: every replay copies them again.
TEST(CudaGraphGpu, HostValuesCopiedWhileRecordingArriveOnEveryReplay) {
  if (skip_without_gpu()) GTEST_SKIP();
  Tensor out;
  const CudaGraph g(kGpu, [&] {
    out = ops::add(Tensor::from_vector({3}, {1.0f, 2.0f, 3.0f}, kGpu),
                   Tensor::arange(0.0f, 3.0f, 1.0f, kGpu));
  });
  for (int i = 0; i < 2; ++i) {
    out.fill_(0.0f);
    g.replay();
    EXPECT_EQ(out.to_vector(), (std::vector<float>{1.0f, 3.0f, 5.0f}));
  }
}

TEST(CudaGraphGpu, MemoryTheGraphUsesIsNotHandedOutside) {
  if (skip_without_gpu()) GTEST_SKIP();
  const Tensor a = Tensor::full({4096}, 1.0f, kGpu);
  Tensor kept;
  std::set<const float*> graph_blocks;
  {
    Tensor outside = Tensor::full({4096}, 3.0f, kGpu);
    graph_blocks.insert(outside.data());
    const CudaGraph g(kGpu, [&] {
      const Tensor scratch = ops::mul(a, 2.0f);  // freed while recording
      graph_blocks.insert(scratch.data());
      kept = ops::add(scratch, outside);
      graph_blocks.insert(kept.data());
      outside = Tensor();  // made before recording, read by it, freed while recording
    });
    std::vector<Tensor> later;
    for (int i = 0; i < 8; ++i) {
      later.push_back(Tensor::full({4096}, 9.0f, kGpu));
      EXPECT_EQ(graph_blocks.count(later.back().data()), 0u) << "a graph's block was handed out";
    }
    g.replay();
    g.replay();
    EXPECT_EQ(kept.to_vector(), std::vector<float>(4096, 5.0f));
  }
  // The graph is gone: its blocks are the general cache's again, and `kept` stays valid.
  EXPECT_EQ(kept.to_vector(), std::vector<float>(4096, 5.0f));
}

// Recording takes the general cache's free blocks into its pool before it asks the driver for
// more, so that a recorded step needs about the memory of an eager one.
TEST(CudaGraphGpu, RecordingAdoptsCachedBlocks) {
  if (skip_without_gpu()) GTEST_SKIP();
  const auto owned = [] {
    const AllocatorStats s = allocator_stats(kGpu);
    return s.in_use + s.cached;
  };
  Tensor::empty({12347}, kGpu);  // leaves a block of this size cached
  const size_t before = owned();
  const float* recorded = nullptr;
  const CudaGraph g(kGpu, [&] { recorded = Tensor::full({12347}, 1.0f, kGpu).data(); });
  EXPECT_EQ(owned(), before) << "recording asked the driver for memory the cache had";
  for (int i = 0; i < 4; ++i)
    EXPECT_NE(Tensor::empty({12347}, kGpu).data(), recorded) << "the graph's block was handed out";
}

// The trainer's step (training/graphed_step.h), with a flow layer: the clips, the labels and the
// learning rate change every step, and the average warms up, and the replays train as the eager
// loop does.
TEST(CudaGraphGpu, TheTrainersGraphedStepTrainsLikeTheEagerLoop) {
  if (skip_without_gpu()) GTEST_SKIP();
  Training eager("after2"), graphed("after2", eager.net.get());
  GraphedStep step(*graphed.net, graphed.sgd, graphed.average, kGpu);
  for (int k = 0; k < 6; ++k) {
    SCOPED_TRACE(k);
    const Tensor clips = random_leaf({4, 3, 8, 32, 32}, 10 + k).detach();
    const std::vector<int64_t> labels = {k % 4, (k + 1) % 4, (k + 3) % 4, k % 4};
    const double lr = 0.05 / (k + 1);
    eager.sgd.zero_grad();
    const Tensor loss = ops::cross_entropy(eager.net->forward(clips.to(kGpu)), labels);
    loss.backward();
    eager.sgd.step(lr);
    eager.average.update();
    const GraphedStep::Outputs out = step.step(clips, labels, lr);
    EXPECT_NEAR(out.loss.item(), loss.item(), 1e-4 * std::abs(loss.item()));
  }
  // The host-label step, the recorded step's code run eagerly, then four replays.
  EXPECT_EQ(step.eager_steps(), 2);
  EXPECT_EQ(step.replays(), 4);
  EXPECT_LT(relative_error(parameters(*graphed.net), parameters(*eager.net)), 1e-4);
  const NamedTensors want = eager.average.state(), got = graphed.average.state();
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_LT(relative_error(got[i].second.to_vector(), want[i].second.to_vector()), 1e-4)
        << want[i].first;
}

}  // namespace
}  // namespace repflow
