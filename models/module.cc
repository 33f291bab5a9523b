#include "models/module.h"

#include <set>

#include "framework/autograd.h"
#include "framework/error.h"

namespace repflow {

Tensor& Module::register_parameter(const std::string& name, Tensor value) {
  value.set_requires_grad(true);
  parameters_.emplace_back(name, std::make_unique<Tensor>(std::move(value)));
  return *parameters_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor value) {
  buffers_.emplace_back(name, std::make_unique<Tensor>(std::move(value)));
  return *buffers_.back().second;
}

void Module::visit_tensors(const std::string& prefix, bool parameters,
                           const std::function<void(const std::string&, Tensor&)>& fn) {
  for (auto& [name, t] : parameters ? parameters_ : buffers_) fn(prefix + name, *t);
  for (auto& [name, child] : children_) child->visit_tensors(prefix + name + ".", parameters, fn);
}

void Module::collect(const std::string& prefix, bool parameters, NamedTensors* out) const {
  const_cast<Module*>(this)->visit_tensors(
      prefix, parameters,
      [out](const std::string& name, Tensor& t) { out->emplace_back(name, t); });
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, &out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, &out);
  return out;
}

NamedTensors Module::state_dict() const {
  NamedTensors out = named_parameters();
  collect("", false, &out);
  return out;
}

std::string LoadReport::lines(const std::string& prefix) const {
  std::string text;
  // A hostile file can hold any number of names of any length: the first ones, shortened, say
  // what is wrong.
  constexpr size_t kShown = 20;
  const auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    text += "\n  " + prefix + what + ":";
    for (size_t i = 0; i < names.size() && i < kShown; ++i) text += " " + excerpt(names[i]);
    if (names.size() > kShown) text += " ... (" + std::to_string(names.size()) + " in all)";
  };
  list("mis-shaped", mismatched);
  list("missing", missing);
  list("unexpected", unexpected);
  return text;
}

LoadReport Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  LoadReport report;
  std::set<std::string> known;
  const NamedTensors mine = state_dict();
  for (const auto& [name, t] : mine) {
    known.insert(name);
    auto it = state.find(name);
    if (it == state.end()) {
      report.missing.push_back(name);
    } else if (it->second.shape() != t.shape()) {
      report.mismatched.push_back(name + " (expected " + shape_str(t.shape()) + ", got " +
                                  shape_str(it->second.shape()) + ")");
    }
  }
  for (const auto& [name, t] : state)
    if (!known.count(name)) report.unexpected.push_back(name);
  if (strict) {
    const std::string problems = report.lines();
    RF_CHECK(problems.empty(), "load_state_dict: the state does not fit the module:", problems);
  }
  check_state("", state);
  NoGradGuard no_grad;
  for (const auto& [name, t] : mine) {
    auto it = state.find(name);
    if (it == state.end() || it->second.shape() != t.shape()) continue;
    const_cast<Tensor&>(t).copy_(it->second);
    ++report.loaded;
  }
  return report;
}

void Module::check_state(const std::string& prefix,
                         const std::map<std::string, Tensor>& state) const {
  for (const auto* own : {&parameters_, &buffers_}) {
    for (const auto& [name, t] : *own) {
      const auto it = state.find(prefix + name);
      if (it == state.end() || it->second.shape() != t->shape()) continue;
      try {
        check_loaded(name, it->second);
      } catch (const Error& e) {
        RF_FAIL("load_state_dict: ", prefix, name, ": ", e.what());
      }
    }
  }
  for (const auto& [name, child] : children_) child->check_state(prefix + name + ".", state);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::to(Device device) {
  const auto move = [device](const std::string&, Tensor& t) {
    const bool requires = t.requires_grad();
    Tensor moved = t.detach().to(device);
    if (requires) moved.set_requires_grad(true);
    t = moved;
  };
  visit_tensors("", true, move);
  visit_tensors("", false, move);
}

void Module::apply(const std::function<void(Module&)>& fn) {
  fn(*this);
  for (auto& [name, child] : children_) child->apply(fn);
}

}  // namespace repflow
