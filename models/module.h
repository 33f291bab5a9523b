#pragma once
// Module: a network part with named parameters, buffers and child modules, a train/eval mode,
// and a state dict whose dotted names follow PyTorch's (`res2.blocks.0.layers.1.weight`), so a
// converted PyTorch checkpoint loads without renaming.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "framework/tensor.h"

namespace repflow {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// What a state dict left out of a module: its names missing from the state, names the module
// does not have, and names whose shapes differ ("fc.weight (expected [3,512], got [1000,512])").
struct LoadReport {
  std::vector<std::string> missing, unexpected, mismatched;
  int64_t loaded = 0;  // tensors copied

  // One line per kind of name left out, "\n  <prefix>mis-shaped: a (expected ..., got ...) b",
  // then missing and unexpected; "" when nothing was.
  std::string lines(const std::string& prefix = "") const;
};

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  // Recursive, in registration order, with dotted names.
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  // Parameters, then buffers, each with its full name.
  NamedTensors state_dict() const;
  // Copies values into the existing tensors (their identity is kept, so optimisers holding
  // them stay valid). With strict, missing, unexpected and mis-shaped names are all reported in
  // one Error and nothing is copied; without it, every tensor whose name and shape fit is
  // copied and the rest are reported. A value its module refuses (check_loaded) is an Error
  // naming the tensor, and nothing is copied.
  LoadReport load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Moves every parameter and buffer to `device` (parameters stay leaves requiring grad).
  void to(Device device);
  // Calls fn on this module and every descendant, parents first (PyTorch's Module.apply): how a
  // setting reaches every module of one kind, such as sync batch norm.
  void apply(const std::function<void(Module&)>& fn);

 protected:
  // Called by load_state_dict, before anything is copied, for each of this module's own
  // tensors (`name` without the module's prefix) that the state would set, the shape already
  // checked: an Error refuses the state. For values that fit the shape but not the module,
  // such as a step size of zero that every forward would divide by.
  virtual void check_loaded(const std::string& /*name*/, const Tensor& /*value*/) const {}

  // The returned reference stays valid for the module's lifetime.
  Tensor& register_parameter(const std::string& name, Tensor value);
  Tensor& register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    children_.emplace_back(name, module);
    return module;
  }

 private:
  void collect(const std::string& prefix, bool parameters, NamedTensors* out) const;
  void check_state(const std::string& prefix, const std::map<std::string, Tensor>& state) const;
  void visit_tensors(const std::string& prefix, bool parameters,
                     const std::function<void(const std::string&, Tensor&)>& fn);

  bool training_ = true;
  // Each tensor in its own slot, so references handed out stay valid as more are added.
  std::vector<std::pair<std::string, std::unique_ptr<Tensor>>> parameters_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace repflow
