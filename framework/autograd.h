#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "framework/tensor.h"

namespace repflow {

// needs[i] is true when input i of a node wants a gradient, so a backward can skip the rest.
using GradMask = std::vector<bool>;
// Maps the gradient of a node's output to one gradient per input (undefined where none).
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad, const GradMask& needs)>;

// Where an input's gradient goes: the node that made it, or the leaf tensor that collects it.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
  Shape shape;
  Device device;
  bool wanted() const { return node != nullptr || leaf != nullptr; }
};

// One recorded operation. Each node has exactly one output; multi-output ops are expressed as
// several single-output ops.
class Node {
 public:
  Node(std::string name, BackwardFn fn, std::vector<Edge> inputs);
  const std::string& name() const { return name_; }
  const std::vector<Edge>& inputs() const { return inputs_; }
  bool released() const { return !fn_; }
  std::vector<Tensor> apply(const Tensor& grad);
  // Drops what the backward captured (saved tensors), keeping the graph's shape.
  void release() { fn_ = nullptr; }

 private:
  std::string name_;
  BackwardFn fn_;
  std::vector<Edge> inputs_;
};

bool grad_enabled();

// Turns recording off for its scope: inference, optimiser steps, backward functions.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

bool any_requires_grad(const std::vector<Tensor>& inputs);

// Makes `out` the result of a differentiable op named `name`: when grad mode is on and an input
// requires grad, out gets a node whose backward is `fn`. A backward that needs the output saves
// out.detach(), never out itself, so that no node owns its own output.
Tensor record(const std::string& name, Tensor out, const std::vector<Tensor>& inputs,
              BackwardFn fn);

// Called by backward with each leaf whose gradient is final for the pass, while the rest of
// the pass still runs: data-parallel training starts reducing gradients from here, so that
// communication overlaps the remaining backward work. A leaf is final once every recorded use
// of it has been processed; leaves only reached through parts of the graph that no gradient
// flowed into are reported at the end of the pass (their grad may then be undefined). The
// order leaves are reported in may differ between processes.
using LeafGradReadyFn = std::function<void(const Tensor& leaf)>;

// Installs `fn` for the backward passes run on this thread during its scope; a nested scope
// replaces the outer one until it ends. Without one, backward does no extra bookkeeping.
class LeafGradReadyHook {
 public:
  explicit LeafGradReadyHook(LeafGradReadyFn fn);
  ~LeafGradReadyHook();
  LeafGradReadyHook(const LeafGradReadyHook&) = delete;
  LeafGradReadyHook& operator=(const LeafGradReadyHook&) = delete;

 private:
  LeafGradReadyFn fn_;
  LeafGradReadyFn* previous_;
};

void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph);

}  // namespace repflow
