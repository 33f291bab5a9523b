// The project's main job. Until the video models and the trainer land (issues 5 and 6), it
// trains a softmax classifier on synthetic Gaussian clusters with the framework's autograd, so
// that the command in README runs the whole stack end to end: tensors, ops, backward, SGD.
#include <chrono>
#include <cstdio>

#include "framework/autograd.h"
#include "framework/flags.h"
#include "framework/thread_pool.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/view.h"

namespace repflow {
namespace {

// n points around the rows of `centres` (one per class), with unit noise; labels one-hot.
void make_clusters(int64_t n, const Tensor& centres, Generator& gen, Device device, Tensor* x,
                   Tensor* onehot) {
  const int64_t classes = centres.size(0), dims = centres.size(1);
  const Tensor noise = Tensor::normal({n, dims}, 0.0f, 1.0f, gen);
  const std::vector<float> u = Tensor::uniform({n}, 0.0f, 1.0f, gen).to_vector();
  std::vector<float> one(n * classes, 0.0f), points(n * dims);
  const std::vector<float> c = centres.to_vector(), z = noise.to_vector();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = std::min<int64_t>(classes - 1, static_cast<int64_t>(u[i] * classes));
    one[i * classes + label] = 1.0f;
    for (int64_t d = 0; d < dims; ++d) points[i * dims + d] = c[label * dims + d] + z[i * dims + d];
  }
  *x = Tensor::from_vector({n, dims}, points, device);
  *onehot = Tensor::from_vector({n, classes}, one, device);
}

// Logits [n, classes] of the linear model x W^T + b, by broadcasting.
Tensor logits(const Tensor& x, const Tensor& w, const Tensor& b) {
  return ops::sum(ops::unsqueeze(x, 1) * ops::unsqueeze(w, 0), {2}) + b;
}

Tensor cross_entropy(const Tensor& z, const Tensor& onehot) {
  const Tensor shifted = z - ops::max(z, {1}, true).detach();
  const Tensor log_probs = shifted - ops::log(ops::sum(ops::exp(shifted), {1}, true));
  return ops::neg(ops::mean(ops::sum(log_probs * onehot, {1})));
}

float accuracy(const Tensor& z, const Tensor& onehot) {
  const Tensor hit = ops::sum(ops::eq(z, ops::max(z, {1}, true)) * onehot, {1});
  return ops::mean(hit).item() * 100.0f;
}

int train(int argc, char** argv) {
  Flags flags("train", "Trains a softmax classifier on synthetic clusters (placeholder job).");
  flags.add("epochs", "30", "passes over the training set");
  flags.add("lr", "0.5", "SGD learning rate");
  flags.add("seed", "0", "random seed for data and weights");
  flags.add("device", "auto", "auto, cpu, cuda or cuda:N");
  flags.add("threads", "0", "CPU threads (0: one per core)");
  if (!flags.parse(argc, argv)) return 0;
  const Device device = parse_device(flags.str("device"));
  if (flags.integer("threads") > 0) set_num_threads(static_cast<int>(flags.integer("threads")));
  const int64_t epochs = flags.integer("epochs");
  RF_CHECK(epochs >= 1, "train: flag --epochs: ", epochs, " is not a positive count");
  const float lr = static_cast<float>(flags.number("lr"));

  const auto start = std::chrono::steady_clock::now();
  Generator gen(static_cast<uint64_t>(flags.integer("seed")));
  const int64_t dims = 16, classes = 5;
  const Tensor centres = Tensor::normal({classes, dims}, 0.0f, 1.0f, gen);
  Tensor x_train, y_train, x_val, y_val;
  make_clusters(2000, centres, gen, device, &x_train, &y_train);
  make_clusters(500, centres, gen, device, &x_val, &y_val);
  Tensor w = Tensor::normal({classes, dims}, 0.0f, 0.01f, gen, device).set_requires_grad();
  Tensor b = Tensor::zeros({classes}, device).set_requires_grad();

  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    const Tensor loss = cross_entropy(logits(x_train, w, b), y_train);
    w.set_grad(Tensor());
    b.set_grad(Tensor());
    loss.backward();
    {
      NoGradGuard no_grad;
      w.add_(w.grad(), -lr);
      b.add_(b.grad(), -lr);
    }
    if (epoch == 1 || epoch % 10 == 0 || epoch == epochs)
      std::printf("epoch %lld loss %.4f\n", static_cast<long long>(epoch), loss.item());
  }
  NoGradGuard no_grad;
  const Tensor z = logits(x_val, w, b);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("final: val_top1=%.2f val_top5=100.00 epochs=%lld seconds=%.2f\n", accuracy(z, y_val),
              static_cast<long long>(epochs), seconds);
  return 0;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main([&] { return repflow::train(argc, argv); });
}
