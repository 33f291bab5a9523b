#include "framework/autograd.h"

#include <unordered_map>
#include <unordered_set>

namespace repflow {
namespace {
thread_local bool t_grad_enabled = true;
thread_local LeafGradReadyFn* t_leaf_grad_ready = nullptr;
}  // namespace

Node::Node(std::string name, BackwardFn fn, std::vector<Edge> inputs)
    : name_(std::move(name)), fn_(std::move(fn)), inputs_(std::move(inputs)) {}

std::vector<Tensor> Node::apply(const Tensor& grad) {
  RF_CHECK(fn_, "backward: the graph through '", name_,
           "' was already freed by an earlier backward(); pass retain_graph=true to the first "
           "backward to go through it twice");
  GradMask needs(inputs_.size());
  for (size_t i = 0; i < inputs_.size(); ++i) needs[i] = inputs_[i].wanted();
  std::vector<Tensor> grads = fn_(grad, needs);
  RF_CHECK(grads.size() == inputs_.size(), "backward of '", name_, "' returned ", grads.size(),
           " gradients for ", inputs_.size(), " inputs");
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!needs[i] || !grads[i].defined()) continue;
    RF_CHECK(grads[i].shape() == inputs_[i].shape && grads[i].device() == inputs_[i].device,
             "backward of '", name_, "' returned a gradient of shape ", shape_str(grads[i].shape()),
             " on ", grads[i].device().str(), " for input ", i, " of shape ",
             shape_str(inputs_[i].shape), " on ", inputs_[i].device.str());
  }
  return grads;
}

bool grad_enabled() { return t_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

LeafGradReadyHook::LeafGradReadyHook(LeafGradReadyFn fn)
    : fn_(std::move(fn)), previous_(t_leaf_grad_ready) {
  t_leaf_grad_ready = &fn_;
}
LeafGradReadyHook::~LeafGradReadyHook() { t_leaf_grad_ready = previous_; }

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(const std::string& name, Tensor out, const std::vector<Tensor>& inputs,
              BackwardFn fn) {
  if (!grad_enabled() || !any_requires_grad(inputs)) return out;
  std::vector<Edge> edges;
  edges.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    Edge e;
    if (t.defined()) {
      e.shape = t.shape();
      e.device = t.device();
      if (t.grad_fn()) {
        e.node = t.grad_fn();
      } else if (t.requires_grad()) {
        e.leaf = t.impl_ptr();
      }
    }
    edges.push_back(std::move(e));
  }
  out.impl()->grad_fn = std::make_shared<Node>(name, std::move(fn), std::move(edges));
  out.impl()->requires_grad = true;
  return out;
}

namespace {

// Whether g's memory is its caller's alone: one handle, whose storage nothing else holds and
// is exactly g's elements, in order.
bool sole_owner(const Tensor& g) {
  return g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 && g.offset() == 0 &&
         g.is_contiguous() && g.storage()->numel() == static_cast<size_t>(g.numel());
}

void accumulate_leaf(TensorImpl& leaf, const Tensor& g) {
  if (!leaf.grad.defined()) {
    // g itself when no one else can see its memory, as PyTorch's AccumulateGrad does: a copy
    // fewer per leaf and backward (3.2 MB of the flow op's 16 x 32 x 28 x 28 input gradients).
    // Otherwise a private copy: g may be shared with other gradients or the caller (a pass-through
    // backward returns the gradient it was given, which the pass still holds), and optimisers
    // change grads in place.
    leaf.grad = sole_owner(g) ? g.detach() : g.detach().clone();
  } else {
    leaf.grad.add_(g);
  }
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph) {
  RF_CHECK(root.defined(), "backward: called on an undefined tensor");
  RF_CHECK(root.requires_grad(), "backward: tensor of shape ", shape_str(root.shape()),
           " does not require grad and has no grad_fn");
  Tensor grad = grad_output;
  if (!grad.defined()) {
    RF_CHECK(root.numel() == 1, "backward: grad can be implicitly created only for a tensor of ",
             "one element, got shape ", shape_str(root.shape()), "; pass an output gradient");
    grad = Tensor::ones(root.shape(), root.device());
  }
  RF_CHECK(grad.shape() == root.shape() && grad.device() == root.device(),
           "backward: output gradient of shape ", shape_str(grad.shape()), " on ",
           grad.device().str(), " does not match tensor of shape ", shape_str(root.shape()), " on ",
           root.device().str());
  NoGradGuard no_grad;
  const LeafGradReadyFn* leaf_ready = t_leaf_grad_ready;
  if (!root.grad_fn()) {
    accumulate_leaf(*root.impl(), grad);
    if (leaf_ready) (*leaf_ready)(root);
    return;
  }

  // Count, for each node, how many edges from other nodes of the graph lead into it, so each
  // node runs once, after all the gradients flowing into it have been summed.
  // With a leaf-ready hook, leaves are counted the same way: a leaf is final when its count
  // reaches zero. `leaf_order` keeps the first-seen order for the end-of-pass reports.
  std::unordered_map<Node*, int> pending;
  std::unordered_map<TensorImpl*, int> leaf_pending;
  std::vector<std::shared_ptr<TensorImpl>> leaf_order;
  std::vector<Node*> stack{root.grad_fn().get()};
  std::unordered_set<Node*> seen{root.grad_fn().get()};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->inputs()) {
      if (leaf_ready && e.leaf && leaf_pending[e.leaf.get()]++ == 0) leaf_order.push_back(e.leaf);
      if (!e.node) continue;
      ++pending[e.node.get()];
      if (seen.insert(e.node.get()).second) stack.push_back(e.node.get());
    }
  }

  std::unordered_map<Node*, Tensor> grads{{root.grad_fn().get(), grad}};
  std::vector<Node*> ready{root.grad_fn().get()};
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    Tensor g = std::move(grads[n]);
    grads.erase(n);
    std::vector<Tensor> input_grads = n->apply(g);
    if (!retain_graph) n->release();
    for (size_t i = 0; i < input_grads.size(); ++i) {
      const Edge& e = n->inputs()[i];
      const Tensor& gi = input_grads[i];
      if (e.node) {
        if (gi.defined()) {
          Tensor& acc = grads[e.node.get()];
          if (!acc.defined()) {
            acc = gi;
          } else {
            // Out of place: gi and acc may alias gradients held elsewhere.
            Tensor sum = acc.clone();
            sum.add_(gi);
            acc = sum;
          }
        }
        if (--pending[e.node.get()] == 0) {
          if (grads.count(e.node.get())) {
            ready.push_back(e.node.get());
          } else if (!retain_graph) {
            e.node->release();
          }
        }
      } else if (e.leaf) {
        if (gi.defined()) accumulate_leaf(*e.leaf, gi);
        if (leaf_ready && --leaf_pending[e.leaf.get()] == 0) (*leaf_ready)(Tensor(e.leaf));
      }
    }
  }
  for (const std::shared_ptr<TensorImpl>& leaf : leaf_order)
    if (leaf_pending[leaf.get()] > 0) (*leaf_ready)(Tensor(leaf));
}

}  // namespace repflow
