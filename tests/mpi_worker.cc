// What the mpi_*_test targets launch under mpirun: a few SGD steps of a small convolutional
// model through the data-parallel pieces (broadcast_module, GradReducer, sync batch norm,
// metric reduction), a failure injected into one rank, or a check of ops::sync_batch_norm
// against batch_norm on the concatenated batch. Run without mpirun it is a world of one.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "framework/autograd.h"
#include "framework/flags.h"
#include "framework/weights.h"
#include "models/layers.h"
#include "ops/batch_norm/batch_norm.h"
#include "ops/loss/loss.h"
#include "ops/slice/slice.h"
#include "ops/view/view.h"
#include "training/distributed/dist_flags.h"
#include "training/distributed/grad_reducer.h"
#include "training/distributed/module_broadcast.h"
#include "training/distributed/sync_batch_norm.h"

namespace repflow {
namespace {

constexpr int64_t kClasses = 5;

std::shared_ptr<Sequential> make_model() {
  auto model = std::make_shared<Sequential>();
  model->add(std::make_shared<Conv>(3, 6, std::vector<int64_t>{3, 3}))
      .add(std::make_shared<BatchNorm>(6))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<Conv>(6, kClasses, std::vector<int64_t>{6, 6}));
  return model;
}

// The global batch of a step, the same on every rank: images (n, 3, 8, 8) and labels.
void global_batch(int64_t step, int64_t n, Tensor* x, std::vector<int64_t>* labels) {
  Generator gen(1000 + static_cast<uint64_t>(step));
  *x = Tensor::normal({n, 3, 8, 8}, 0.5f, 1.0f, gen);
  const std::vector<float> u = Tensor::uniform({n}, 0.0f, 1.0f, gen).to_vector();
  labels->clear();
  for (float v : u)
    labels->push_back(std::min<int64_t>(kClasses - 1, static_cast<int64_t>(v * kClasses)));
}

void inject_failure(const std::string& failure) {
  if (failure == "throw") load_weights("/nonexistent/repflow_mpi_test.weights");
  if (failure == "kill") std::raise(SIGKILL);
  if (failure == "hang") std::this_thread::sleep_for(std::chrono::seconds(120));
  RF_CHECK(failure == "none", "flag --failure: unknown failure '", failure, "'");
}

int train(const Flags& flags, const DistOptions& dist, const DistContext& ctx, Communicator& comm) {
  const int64_t global = flags.integer("global-batch");
  RF_CHECK(global % ctx.world_size == 0, "flag --global-batch: ", global, " does not split over ",
           ctx.world_size, " ranks");
  const int64_t local = global / ctx.world_size;
  // Different draws per rank: broadcast_module is what must make the replicas equal.
  default_generator().set_state(7 + static_cast<uint64_t>(ctx.rank), 0);
  std::shared_ptr<Sequential> model = make_model();
  broadcast_module(*model, comm);
  if (dist.sync_bn) {
    enable_sync_batch_norm(*model, comm);
  } else {
    // Per-process statistics would differ from the single-process run's: BN uses its buffers.
    model->eval();
  }
  std::vector<Tensor> params;
  for (const auto& [name, p] : model->named_parameters()) params.push_back(p);
  GradReducer reducer(params, comm, dist.bucket_mb);
  const float lr = 0.1f;
  double loss_sum = 0, count = 0;
  for (int64_t step = 0; step < flags.integer("steps"); ++step) {
    if (ctx.rank == flags.integer("fail-rank") && step == flags.integer("fail-step"))
      inject_failure(flags.str("failure"));
    Tensor x;
    std::vector<int64_t> labels;
    global_batch(step, global, &x, &labels);
    const Tensor mine = ops::narrow(x, 0, ctx.rank * local, local).contiguous();
    const std::vector<int64_t> my_labels(labels.begin() + ctx.rank * local,
                                         labels.begin() + (ctx.rank + 1) * local);
    const Tensor logits = ops::reshape((*model)(mine), {local, kClasses});
    const Tensor loss = ops::cross_entropy(logits, my_labels);
    reducer.backward(loss);
    NoGradGuard no_grad;
    for (Tensor& p : params) {
      p.add_(p.grad(), -lr);
      p.set_grad(Tensor());
    }
    const std::vector<double> sums =
        comm.allreduce_sum(std::vector<double>{loss.item() * local, double(local)}, "loss");
    loss_sum = sums[0];
    count = sums[1];
  }
  std::printf("rank %d: buckets=%ld last_loss=%.7f samples=%.0f\n", ctx.rank,
              static_cast<long>(reducer.bucket_count()), loss_sum / count, count);
  save_weights(flags.str("out") + ".rank" + std::to_string(ctx.rank), model->state_dict());
  return 0;
}

float max_diff(const Tensor& a, const Tensor& b) {
  const std::vector<float> va = a.to_vector(), vb = b.to_vector();
  RF_CHECK(va.size() == vb.size(), "bn-check: sizes differ");
  float worst = 0;
  for (size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::fabs(va[i] - vb[i]));
  return worst;
}

// Sync BN on this rank's share of a batch against batch_norm on the whole batch.
int check_sync_bn(const DistContext& ctx, Communicator& comm) {
  const int64_t per_rank = 3, n = per_rank * ctx.world_size, c = 4;
  Generator gen(42);
  const Tensor x_all = Tensor::normal({n, c, 5, 3}, 2.0f, 1.5f, gen).set_requires_grad();
  const Tensor g_all = Tensor::normal({n, c, 5, 3}, 0.0f, 1.0f, gen);
  const Tensor w_all = Tensor::uniform({c}, 0.5f, 1.5f, gen).set_requires_grad();
  const Tensor b_all = Tensor::uniform({c}, -0.5f, 0.5f, gen).set_requires_grad();
  Tensor rm_all = Tensor::zeros({c}), rv_all = Tensor::ones({c});
  ops::batch_norm(x_all, w_all, b_all, rm_all, rv_all, true).backward(g_all);
  const Tensor y_all =
      ops::batch_norm(x_all.detach(), w_all.detach(), b_all.detach(), Tensor(), Tensor(), true);

  const Tensor x = ops::narrow(x_all.detach(), 0, ctx.rank * per_rank, per_rank).contiguous();
  Tensor xl = x.clone().set_requires_grad();
  Tensor w = w_all.detach().clone().set_requires_grad(),
         b = b_all.detach().clone().set_requires_grad();
  Tensor rm = Tensor::zeros({c}), rv = Tensor::ones({c});
  const Tensor y = ops::sync_batch_norm(xl, w, b, rm, rv, 0.1f, 1e-5f,
                                        [&](const Tensor& s) { comm.allreduce_sum(s, "sync bn"); });
  y.backward(ops::narrow(g_all, 0, ctx.rank * per_rank, per_rank).contiguous());
  // The parameter gradients are each rank's share: their sum is the whole batch's.
  Tensor gw = w.grad().clone(), gb = b.grad().clone();
  comm.allreduce_sum(gw, "gw");
  comm.allreduce_sum(gb, "gb");
  const float dy = max_diff(y, ops::narrow(y_all, 0, ctx.rank * per_rank, per_rank));
  const float dx = max_diff(xl.grad(), ops::narrow(x_all.grad(), 0, ctx.rank * per_rank, per_rank));
  const float dw = max_diff(gw, w_all.grad()), db = max_diff(gb, b_all.grad());
  const float dm = max_diff(rm, rm_all), dv = max_diff(rv, rv_all);
  std::printf("rank %d: max differences y=%g gx=%g gw=%g gb=%g running_mean=%g running_var=%g\n",
              ctx.rank, dy, dx, dw, db, dm, dv);
  const bool ok = dy < 1e-5f && dx < 1e-5f && dw < 1e-4f && db < 1e-4f && dm < 1e-6f && dv < 1e-5f;
  return ok ? 0 : 1;
}

int run(int argc, char** argv) {
  Flags flags("mpi_worker", "Data-parallel test worker (see tests/BUILD).");
  flags.add("mode", "train", "train or bn-check");
  flags.add("global-batch", "8", "samples per step over all ranks");
  flags.add("steps", "3", "SGD steps");
  flags.add("out", "/tmp/mpi_worker", "weights are written to OUT.rank<r>");
  flags.add("fail-rank", "-1", "rank that fails at --fail-step");
  flags.add("fail-step", "1", "step at which --fail-rank fails");
  flags.add("failure", "none", "none, throw (bad file), kill (SIGKILL) or hang");
  add_dist_flags(flags);
  if (!flags.parse(argc, argv)) return 0;
  const DistOptions dist = read_dist_flags(flags);
  const DistContext ctx = init_mpi();
  std::unique_ptr<Communicator> comm = make_communicator(ctx, Device::cpu(), dist.timeout_s);
  if (flags.str("mode") == "bn-check") return check_sync_bn(ctx, *comm);
  RF_CHECK(flags.str("mode") == "train", "flag --mode: unknown mode '", flags.str("mode"), "'");
  return train(flags, dist, ctx, *comm);
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main_distributed([&] { return repflow::run(argc, argv); });
}
