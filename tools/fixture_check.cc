#include "tools/fixture_check.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "framework/autograd.h"
#include "framework/json_tensor.h"
#include "models/reference/reference_modules.h"

namespace repflow {
namespace {

// The README's tolerance for a float32 implementation: max |a - b| <= 1e-3 * max(1, max |b|).
bool compare(const std::string& label, const Tensor& got, const Tensor& want,
             const std::function<void(const std::string&)>& print) {
  char line[512];
  if (!got.defined() || got.shape() != want.shape()) {
    std::snprintf(line, sizeof line, "%-48s FAIL shape %s, expected %s", label.c_str(),
                  got.defined() ? shape_str(got.shape()).c_str() : "(none)",
                  shape_str(want.shape()).c_str());
    print(line);
    return false;
  }
  const std::vector<float> a = got.to_vector(), b = want.to_vector();
  double max_abs = 0, max_ref = 0, max_rel = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double err = std::fabs(static_cast<double>(a[i]) - b[i]);
    max_abs = std::isnan(err) ? INFINITY : std::max(max_abs, err);
    max_ref = std::max(max_ref, std::fabs(static_cast<double>(b[i])));
    max_rel = std::max(max_rel, err / std::max(std::fabs(static_cast<double>(b[i])), 1e-12));
  }
  const bool ok = max_abs <= 1e-3 * std::max(1.0, max_ref);
  std::snprintf(line, sizeof line, "%-48s %s max_abs=%.3g max_rel=%.3g (max|ref|=%.3g)",
                label.c_str(), ok ? "ok  " : "FAIL", max_abs, max_rel, max_ref);
  print(line);
  return ok;
}

const nlohmann::json& field(const nlohmann::json& j, const char* key, const std::string& where) {
  RF_CHECK(j.is_object() && j.contains(key), where, ": missing \"", key, "\"");
  return j[key];
}

}  // namespace

FixtureReport check_fixture(const std::string& path, bool skip_unsupported,
                            const std::function<void(const std::string&)>& print) {
  FixtureReport report;
  const nlohmann::json doc = read_json_file(path);
  const nlohmann::json& module_spec = field(field(doc, "meta", path), "module", path + ": meta");
  const nlohmann::json& kind_json = field(module_spec, "kind", path + ": meta.module");
  RF_CHECK(kind_json.is_string(), path, ": meta.module.kind is not a string");
  const std::string kind = kind_json.get<std::string>();
  if (!reference_kind_supported(kind)) {
    RF_CHECK(skip_unsupported, path, ": unknown module kind '", kind, "'");
    print(path + ": skipped, module kind '" + kind + "' is not supported yet");
    report.skipped = true;
    return report;
  }
  const nlohmann::json args =
      module_spec.contains("args") ? module_spec["args"] : nlohmann::json::object();

  std::map<std::string, Tensor> state;
  for (const auto& [name, value] : field(doc, "state_dict", path).items())
    state[name] = tensor_from_json(value, path + ": state_dict." + name);

  const nlohmann::json& cases = field(doc, "cases", path);
  RF_CHECK(cases.is_object() && !cases.empty(), path, ": \"cases\" holds no case");
  for (const auto& item : cases.items()) {
    // Named references rather than a structured binding: lambdas cannot capture those in C++17.
    const std::string& case_name = item.key();
    const nlohmann::json& c = item.value();
    const std::string where = path + ": cases." + case_name;
    RF_CHECK(case_name == "train" || case_name == "eval", where,
             ": unknown case (expected train or eval)");
    const auto tensor = [&](const std::string& key) {
      return tensor_from_json(field(c, key.c_str(), where), where + "." + key);
    };
    // A fresh module per case: the train case changes the running statistics.
    std::shared_ptr<Module> module = make_reference_module(kind, args);
    try {
      module->load_state_dict(state);
    } catch (const Error& e) {
      RF_FAIL(path, ": ", e.what());
    }
    module->train(case_name == "train");
    Tensor input = tensor("input");
    input.set_requires_grad(true);
    const Tensor output = module->forward(input);
    const auto tally = [&](bool ok) { ok ? ++report.passed : ++report.failed; };
    tally(compare(case_name + " output", output, tensor("output"), print));
    output.backward(tensor("grad_output"));
    tally(compare(case_name + " grad.input", input.grad(), tensor("grad.input"), print));
    for (const auto& [name, p] : module->named_parameters())
      tally(compare(case_name + " grad." + name, p.grad(), tensor("grad." + name), print));
    const NamedTensors buffers = module->named_buffers();
    for (const auto& [key, value] : c.items()) {
      if (key.rfind("after.", 0) != 0) continue;
      const std::string name = key.substr(6);
      const Tensor* buffer = nullptr;
      for (const auto& [bname, b] : buffers)
        if (bname == name) buffer = &b;
      RF_CHECK(buffer, where, ": '", key, "' names no buffer of the module");
      tally(compare(case_name + " " + key, *buffer, tensor(key), print));
    }
  }
  return report;
}

}  // namespace repflow
