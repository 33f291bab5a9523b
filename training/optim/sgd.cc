#include "training/optim/sgd.h"

#include <cmath>
#include <cstdlib>
#include <set>

#include "framework/autograd.h"
#include "framework/text.h"
#include "ops/elementwise/elementwise.h"
#include "ops/optim/optim.h"
#include "ops/reduce/reduce.h"

namespace repflow {

namespace {

const char kMomentumPrefix[] = "momentum.";

double parse_number(const std::string& text, const std::string& flag, const std::string& entry) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  RF_CHECK(!text.empty() && *end == '\0' && std::isfinite(v), "flag --", flag, ": '", excerpt(text),
           "' in '", excerpt(entry), "' is not a number");
  return v;
}

}  // namespace

std::vector<ParamGroup> make_param_groups(const NamedTensors& params,
                                          const std::vector<GroupRule>& rules, double weight_decay,
                                          bool no_decay_1d) {
  // Slot 2*i is rule i (i == rules.size(): the default), slot 2*i+1 its no-decay twin.
  std::vector<ParamGroup> slots(2 * (rules.size() + 1));
  for (size_t i = 0; i <= rules.size(); ++i) {
    const bool is_rule = i < rules.size();
    ParamGroup& g = slots[2 * i];
    g.name = is_rule ? rules[i].pattern : "default";
    g.lr_mult = is_rule ? rules[i].lr_mult : 1.0;
    g.weight_decay = is_rule && rules[i].weight_decay ? *rules[i].weight_decay : weight_decay;
    slots[2 * i + 1] = g;
    slots[2 * i + 1].name += ".no_decay";
    slots[2 * i + 1].weight_decay = 0.0;
  }
  std::vector<bool> used(rules.size(), false);
  for (const auto& [name, p] : params) {
    size_t i = 0;
    while (i < rules.size() && name.find(rules[i].pattern) == std::string::npos) ++i;
    if (i < rules.size()) used[i] = true;
    slots[2 * i + (no_decay_1d && p.dim() < 2 ? 1 : 0)].params.emplace_back(name, p);
  }
  for (size_t i = 0; i < rules.size(); ++i) {
    RF_CHECK(used[i], "parameter group rule '", excerpt(rules[i].pattern),
             "' matches no parameter name (it is a substring of the dotted name, e.g. "
             "'flow' for 'layer2.0.flow.theta')");
  }
  std::vector<ParamGroup> groups;
  for (auto& g : slots) {
    if (!g.params.empty()) groups.push_back(std::move(g));
  }
  return groups;
}

std::vector<GroupRule> parse_group_rules(const std::string& text, const std::string& flag) {
  std::vector<GroupRule> rules;
  const std::vector<std::string> entries = split(text, ',');
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string& entry = entries[i];
    RF_CHECK(!(entry.empty() && i + 1 == entries.size()), "flag --", flag, ": '", excerpt(text),
             "' ends with a comma");
    const std::vector<std::string> parts = split(entry, ':');
    RF_CHECK((parts.size() == 2 || parts.size() == 3) && !parts[0].empty(), "flag --", flag, ": '",
             entry, "' is not pattern:lr_mult[:weight_decay]");
    GroupRule rule{parts[0], parse_number(parts[1], flag, entry), std::nullopt};
    RF_CHECK(rule.lr_mult >= 0, "flag --", flag, ": learning-rate multiplier in '", excerpt(entry),
             "' is negative");
    if (parts.size() == 3) {
      rule.weight_decay = parse_number(parts[2], flag, entry);
      RF_CHECK(*rule.weight_decay >= 0, "flag --", flag, ": weight decay in '", excerpt(entry),
               "' is negative");
    }
    rules.push_back(rule);
  }
  return rules;
}

Sgd::Sgd(std::vector<ParamGroup> groups, SgdOptions options)
    : groups_(std::move(groups)), options_(options) {
  RF_CHECK(options_.momentum >= 0 && options_.dampening >= 0, "SGD: momentum ", options_.momentum,
           " and dampening ", options_.dampening, " must not be negative");
  RF_CHECK(!options_.nesterov || (options_.momentum > 0 && options_.dampening == 0),
           "SGD: Nesterov momentum needs momentum > 0 and dampening 0 (got momentum ",
           options_.momentum, ", dampening ", options_.dampening, ")");
  std::set<std::string> seen;
  for (const auto& g : groups_) {
    RF_CHECK(g.weight_decay >= 0, "SGD: group '", excerpt(g.name), "' has negative weight decay ",
             g.weight_decay);
    for (const auto& [name, p] : g.params) {
      RF_CHECK(seen.insert(name).second, "SGD: parameter '", excerpt(name),
               "' is listed in more than one group");
    }
  }
}

void Sgd::zero_grad() {
  for (auto& g : groups_) {
    for (auto& [name, p] : g.params) p.set_grad(Tensor());
  }
}

double Sgd::clip_grad_norm(double max_norm) {
  RF_CHECK(max_norm > 0, "clip_grad_norm: max_norm ", max_norm, " must be positive");
  NoGradGuard no_grad;
  // Summed on the parameters' device, so one read (one synchronisation) gives the norm.
  Tensor squares;
  for (const auto& g : groups_) {
    for (const auto& [name, p] : g.params) {
      if (!p.grad().defined()) continue;
      const Tensor s = ops::sum(ops::mul(p.grad(), p.grad()));
      squares = squares.defined() ? ops::add(squares, s.to(squares.device())) : s;
    }
  }
  if (!squares.defined()) return 0.0;
  const double norm = std::sqrt(static_cast<double>(squares.item()));
  const double scale = max_norm / (norm + 1e-6);
  if (!std::isfinite(norm) || scale >= 1.0) return norm;
  for (const auto& g : groups_) {
    for (const auto& [name, p] : g.params) {
      Tensor grad = p.grad();
      if (grad.defined()) grad.copy_(ops::mul(grad, static_cast<float>(scale)));
    }
  }
  return norm;
}

std::vector<ops::SgdSlot> Sgd::slots(double lr_factor) {
  std::vector<ops::SgdSlot> slots;
  for (const auto& group : groups_) {
    for (const auto& [name, p] : group.params) {
      if (!p.grad().defined()) continue;
      ops::SgdSlot slot{p,
                        p.grad().contiguous(),
                        Tensor(),
                        static_cast<float>(lr_factor * group.lr_mult),
                        static_cast<float>(group.weight_decay),
                        false};
      if (options_.momentum != 0) {
        auto it = momentum_.find(name);
        if (it == momentum_.end()) {
          it = momentum_.emplace(name, Tensor::empty(p.shape(), p.device())).first;
          slot.first_step = true;
        }
        slot.momentum = it->second;
      }
      slots.push_back(std::move(slot));
    }
  }
  return slots;
}

ops::SgdHyper Sgd::hyper() const {
  return {static_cast<float>(options_.momentum), static_cast<float>(options_.dampening),
          options_.nesterov};
}

void Sgd::step(double lr) {
  NoGradGuard no_grad;
  ops::sgd_step_(slots(lr), hyper());
}

void Sgd::step(const Tensor& lr) {
  NoGradGuard no_grad;
  ops::sgd_step_(slots(1.0), hyper(), lr);
}

NamedTensors Sgd::state() const {
  NamedTensors out;
  for (const auto& g : groups_) {
    for (const auto& [name, p] : g.params) {
      const auto it = momentum_.find(name);
      if (it != momentum_.end()) out.emplace_back(kMomentumPrefix + name, it->second);
    }
  }
  return out;
}

void Sgd::load_state(const std::map<std::string, Tensor>& state) {
  RF_CHECK(state.empty() || options_.momentum != 0, "SGD state: ", state.size(),
           " momentum buffers given to an optimiser without momentum");
  std::map<std::string, Tensor> params;
  for (const auto& g : groups_) {
    for (const auto& [name, p] : g.params) params.emplace(kMomentumPrefix + name, p);
  }
  std::map<std::string, Tensor> loaded;
  for (const auto& [key, value] : state) {
    const auto it = params.find(key);
    RF_CHECK(it != params.end(), "SGD state: '", excerpt(key),
             "' is not momentum.<name> of a parameter of this optimiser");
    RF_CHECK(value.shape() == it->second.shape(), "SGD state: '", excerpt(key), "' has shape ",
             shape_str(value.shape()), ", the parameter has ", shape_str(it->second.shape()));
    Tensor buf = Tensor::empty(value.shape(), it->second.device());
    buf.copy_(value);
    loaded.emplace(key.substr(sizeof(kMomentumPrefix) - 1), buf);
  }
  momentum_ = std::move(loaded);
}

}  // namespace repflow
