#include "tests/precision_step.h"

#include "ops/loss/loss.h"

namespace repflow::testing {

StepGradients step_gradients(Module& model, const Tensor& x, const std::vector<int64_t>& labels,
                             Precision precision) {
  PrecisionScope scope(precision);
  model.train();
  const Tensor loss = ops::cross_entropy(model.forward(x), labels);
  loss.backward();
  StepGradients step;
  step.loss = loss.item();
  for (auto& [name, p] : model.named_parameters()) {
    if (!p.grad().defined()) continue;
    const std::vector<float> g = p.grad().to_vector();
    step.gradients.insert(step.gradients.end(), g.begin(), g.end());
    Tensor(p).set_grad(Tensor());
  }
  return step;
}

}  // namespace repflow::testing
