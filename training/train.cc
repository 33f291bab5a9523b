// The project's main job. Until the video models and the trainer land (issues 5 and 6), it
// trains a softmax classifier on synthetic Gaussian clusters with the framework's autograd, so
// that the command in README runs the whole stack end to end: tensors, ops, backward, SGD.
#include <chrono>
#include <cstdio>

#include "framework/autograd.h"
#include "framework/flags.h"
#include "ops/linear.h"
#include "ops/loss.h"

namespace repflow {
namespace {

// n points around the rows of `centres` (one per class), with unit noise, and their labels.
void make_clusters(int64_t n, const Tensor& centres, Generator& gen, Device device, Tensor* x,
                   std::vector<int64_t>* labels) {
  const int64_t classes = centres.size(0), dims = centres.size(1);
  const Tensor noise = Tensor::normal({n, dims}, 0.0f, 1.0f, gen);
  const std::vector<float> u = Tensor::uniform({n}, 0.0f, 1.0f, gen).to_vector();
  const std::vector<float> c = centres.to_vector(), z = noise.to_vector();
  std::vector<float> points(n * dims);
  labels->resize(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = std::min<int64_t>(classes - 1, static_cast<int64_t>(u[i] * classes));
    (*labels)[i] = label;
    for (int64_t d = 0; d < dims; ++d) points[i * dims + d] = c[label * dims + d] + z[i * dims + d];
  }
  *x = Tensor::from_vector({n, dims}, points, device);
}

int train(int argc, char** argv) {
  Flags flags("train", "Trains a softmax classifier on synthetic clusters (placeholder job).");
  flags.add("epochs", "30", "passes over the training set");
  flags.add("lr", "0.5", "SGD learning rate");
  flags.add("seed", "0", "random seed for data and weights");
  flags.add("device", "auto", "auto, cpu, cuda or cuda:N");
  add_threads_flag(flags, "CPU threads");
  if (!flags.parse(argc, argv)) return 0;
  const Device device = parse_device(flags.str("device"));
  apply_threads_flag(flags);
  const int64_t epochs = flags.integer("epochs");
  RF_CHECK(epochs >= 1, "train: flag --epochs: ", epochs, " is not a positive count");
  const float lr = static_cast<float>(flags.number("lr"));

  const auto start = std::chrono::steady_clock::now();
  Generator gen(static_cast<uint64_t>(flags.integer("seed")));
  const int64_t dims = 16, classes = 5;
  const Tensor centres = Tensor::normal({classes, dims}, 0.0f, 1.0f, gen);
  Tensor x_train, x_val;
  std::vector<int64_t> y_train, y_val;
  make_clusters(2000, centres, gen, device, &x_train, &y_train);
  make_clusters(500, centres, gen, device, &x_val, &y_val);
  Tensor w = Tensor::normal({classes, dims}, 0.0f, 0.01f, gen, device).set_requires_grad();
  Tensor b = Tensor::zeros({classes}, device).set_requires_grad();

  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    const Tensor loss = ops::cross_entropy(ops::linear(x_train, w, b), y_train);
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
  const Tensor z = ops::linear(x_val, w, b);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("final: val_top1=%.2f val_top5=%.2f epochs=%lld seconds=%.2f\n",
              100 * ops::topk_accuracy(z, y_val, 1), 100 * ops::topk_accuracy(z, y_val, 5),
              static_cast<long long>(epochs), seconds);
  return 0;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main([&] { return repflow::train(argc, argv); });
}
