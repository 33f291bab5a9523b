#include "models/registry.h"

#include <cctype>
#include <cstdlib>
#include <functional>
#include <map>

#include "models/late_fusion.h"
#include "models/reference/kinetics.h"

namespace repflow {
namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Whether `text` may start a number: strtoll and strtof would also skip spaces and take a '+',
// which the other flags' parsers refuse.
bool number_start(const std::string& text) {
  return !text.empty() &&
         (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-' || text[0] == '.');
}

// The whole of `text` as a number, or nullopt.
std::optional<long long> parse_int(const std::string& text) {
  if (!number_start(text)) return std::nullopt;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (*end != '\0') return std::nullopt;
  return v;
}

std::optional<float> parse_float(const std::string& text) {
  if (!number_start(text)) return std::nullopt;
  char* end = nullptr;
  const float v = std::strtof(text.c_str(), &end);
  if (*end != '\0') return std::nullopt;
  return v;
}

FlowSpec flow_spec(const ModelOptions& o) {
  FlowSpec spec;
  spec.position = *o.flow;
  spec.block.reduced_channels = o.reduced_channels;
  spec.block.n_iter = o.flow_iters;
  spec.block.learned = o.flow_learn;
  spec.block.fusion = o.fusion;
  spec.stages = o.flow_stages > 0 ? o.flow_stages : (o.fcf ? 2 : 1);
  spec.conv_between = o.fcf;
  return spec;
}

std::shared_ptr<Module> make_kinetics(const ModelOptions& o) {
  const char* name = "kinetics_repflow_r50";
  RF_CHECK(o.flow && o.flow->stage == 3 && o.flow->block < 0, name,
           ": the published model has its flow layer after res3; flow must be after3");
  RF_CHECK(o.flow_stages <= 1 && !o.fcf && o.width == 64 && o.stem == ResNetStem::kImageNet, name,
           ": flow-stages, fcf, width and stem do not apply to the published model");
  KineticsOptions k;
  k.classes = o.classes;
  k.flow_iters = o.flow_iters;
  k.flow_bottleneck = o.reduced_channels;
  if (o.dropout) k.dropout = *o.dropout;
  return std::make_shared<KineticsRepFlow>(k);
}

using Factory = std::function<std::shared_ptr<Module>(const ModelOptions&)>;

Factory resnet_factory(int depth, ResNetKind kind, bool temporal_strides) {
  return [=](const ModelOptions& o) {
    ResNetOptions r;
    r.depth = depth;
    r.kind = kind;
    r.temporal_strides = temporal_strides;
    r.classes = o.classes;
    r.width = o.width;
    r.stem = o.stem;
    if (o.flow) r.flow = flow_spec(o);
    r.flow_input = o.flow_input;
    r.dropout = o.dropout.value_or(0.0f);
    auto net = std::make_shared<ResNet>(r);
    if (!o.late_fusion) return std::shared_ptr<Module>(net);
    RF_CHECK(o.flow || o.flow_input,
             "fusion late averages an RGB network's scores with a flow network's: "
             "it needs a flow position, not none, or input flow (two-stream)");
    ResNetOptions rgb = r;
    rgb.flow.reset();
    rgb.flow_input = false;
    return std::shared_ptr<Module>(
        std::make_shared<LateFusion>(std::make_shared<ResNet>(rgb), net));
  };
}

// torchvision.models.video's networks under their own names, temporal strides included.
const std::pair<const char*, ResNetKind> kTorchvisionVideo[] = {
    {"r3d_18", ResNetKind::k3d},
    {"mc3_18", ResNetKind::kMixed3d},
    {"r2plus1d_18", ResNetKind::k2plus1d}};

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = [] {
    std::map<std::string, Factory> t;
    const std::pair<const char*, ResNetKind> kinds[] = {
        {"2d", ResNetKind::k2d}, {"2p1d", ResNetKind::k2plus1d}, {"3d", ResNetKind::k3d}};
    for (int depth : {10, 18, 34, 50}) {
      for (const auto& [suffix, kind] : kinds) {
        t["resnet" + std::to_string(depth) + "_" + suffix] = resnet_factory(depth, kind, false);
      }
    }
    for (const auto& [name, kind] : kTorchvisionVideo) t[name] = resnet_factory(18, kind, true);
    t["kinetics_repflow_r50"] = make_kinetics;
    return t;
  }();
  return table;
}

std::vector<std::string> network_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : factories()) names.push_back(name);
  return names;
}

// A name's network and its options with their defaults: the options listed are exactly those
// that apply to it.
struct Defaults {
  std::string network;
  OptionValues options;
};

const std::map<std::string, Defaults>& defaults_table() {
  static const std::map<std::string, Defaults> table = [] {
    const OptionValues resnet = {{"classes", "400"},   {"width", "64"},
                                 {"stem", "imagenet"}, {"flow", "after3"},
                                 {"flow-iters", "10"}, {"flow-stages", "1"},
                                 {"fcf", "false"},     {"reduced-channels", "32"},
                                 {"dropout", "0"},     {"flow-learn", "tlt,div"},
                                 {"fusion", "add"},    {"input", "rgb"}};
    std::map<std::string, Defaults> t;
    for (const std::string& name : network_names()) t[name] = {name, resnet};
    t["kinetics_repflow_r50"] = {
        "kinetics_repflow_r50",
        {{"classes", "400"}, {"flow-iters", "10"}, {"reduced-channels", "32"}, {"dropout", "0.5"}}};
    OptionValues tiny = resnet;
    for (const auto& [option, value] : OptionValues{
             {"width", "8"}, {"stem", "small"}, {"flow", "after2"}, {"reduced-channels", "8"}})
      tiny[option] = value;
    t["resnet10_2d_tiny"] = {"resnet10_2d", tiny};
    // torchvision's networks as torchvision builds them: no flow layer unless asked for.
    for (const auto& [name, kind] : kTorchvisionVideo) t[name].options["flow"] = "none";
    return t;
  }();
  return table;
}

const Defaults& defaults_of(const std::string& name) {
  const auto it = defaults_table().find(name);
  RF_CHECK(it != defaults_table().end(), "unknown model '", excerpt(name),
           "'; valid models: ", join(model_names()));
  return it->second;
}

ModelOptions typed_options(const OptionValues& values) {
  ModelOptions o;
  for (const auto& [option, value] : values) set_model_option(&o, option, value);
  return o;
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& [name, defaults] : defaults_table()) names.push_back(name);
  return names;
}

const std::vector<std::string>& model_option_names() {
  static const std::vector<std::string> names = {
      "classes",          "width",   "stem",       "flow",   "flow-iters", "flow-stages", "fcf",
      "reduced-channels", "dropout", "flow-learn", "fusion", "input"};
  return names;
}

std::shared_ptr<Module> make_model(const std::string& name, const ModelOptions& options) {
  const auto it = factories().find(name);
  RF_CHECK(
      it != factories().end(), "unknown network '", excerpt(name),
      "'; valid networks: ", join(network_names()),
      defaults_table().count(name) ? " (a preset is built from its ModelSpec: resolve_model)" : "");
  RF_CHECK(options.flow_iters >= 1 && options.reduced_channels >= 1 && options.flow_stages >= 0,
           name, ": flow-iters and reduced-channels must be positive and flow-stages not negative");
  return it->second(options);
}

OptionValues model_defaults(const std::string& name) { return defaults_of(name).options; }

ModelSpec resolve_model(const std::string& name, const OptionValues& given) {
  const Defaults& d = defaults_of(name);
  ModelSpec spec{d.network, d.options};
  for (const auto& [option, value] : given) {
    if (!d.options.count(option)) {
      std::vector<std::string> valid;
      for (const std::string& o : model_option_names())
        if (d.options.count(o)) valid.push_back(o);
      RF_FAIL("option ", option, " does not apply to ", name, " (its options: ", join(valid), ")");
    }
    spec.options[option] = value;
  }
  if (given.count("fcf") && given.at("fcf") == "true" && !given.count("flow-stages"))
    spec.options["flow-stages"] = "2";
  if (given.count("flow") && given.at("flow") == "input" && !given.count("fusion") &&
      spec.options.count("fusion"))
    spec.options["fusion"] = "none";
  if (given.count("input") && given.at("input") == "flow" && !given.count("flow") &&
      spec.options.count("flow"))
    spec.options["flow"] = "none";
  typed_options(spec.options);  // checks every value now, naming its option
  return spec;
}

std::shared_ptr<Module> make_model(const ModelSpec& spec) {
  const Defaults& d = defaults_of(spec.name);
  RF_CHECK(d.network == spec.name, "model '", spec.name, "' is a preset of ", d.network,
           ": resolve it first (resolve_model)");
  for (const auto& [option, value] : spec.options)
    RF_CHECK(d.options.count(option), "option ", option, " does not apply to ", spec.name);
  return make_model(spec.name, typed_options(spec.options));
}

std::optional<FlowPosition> parse_flow_position(const std::string& text) {
  if (text == "none") return std::nullopt;
  if (text == "input") return FlowPosition{0, -1};
  const auto bad = [&text]() {
    RF_FAIL("bad flow position '", excerpt(text),
            "'; valid: none, input (on the RGB frames), after<S> (after residual stage res<S>, "
            "S in 1..5), after<S>.<B> (after block B of res<S>)");
  };
  if (text.rfind("after", 0) != 0) bad();
  const std::string rest = text.substr(5);
  const size_t dot = rest.find('.');
  FlowPosition p;
  const auto stage = parse_int(rest.substr(0, dot));
  if (!stage || *stage < 1 || *stage > 5) bad();
  p.stage = static_cast<int>(*stage);
  if (dot != std::string::npos) {
    const auto block = parse_int(rest.substr(dot + 1));
    if (!block || *block < 0 || p.stage == 1) bad();
    p.block = static_cast<int>(*block);
  }
  return p;
}

void set_model_option(ModelOptions* options, const std::string& flag, const std::string& value) {
  // The upper bounds are far above any model of the paper's, and keep every size computed from
  // them (channels, weights, logits) well inside 64 bits.
  const auto integer = [&](long long min, long long max) {
    const auto v = parse_int(value);
    RF_CHECK(v && *v >= min && *v <= max, "option ", flag, ": '", excerpt(value),
             "' is not an integer between ", min, " and ", max);
    return *v;
  };
  if (flag == "classes") {
    options->classes = integer(1, 100000);
  } else if (flag == "width") {
    options->width = integer(1, 4096);
  } else if (flag == "stem") {
    RF_CHECK(value == "imagenet" || value == "small", "option stem: '", excerpt(value),
             "' is not imagenet or small");
    options->stem = value == "small" ? ResNetStem::kSmall : ResNetStem::kImageNet;
  } else if (flag == "flow") {
    options->flow = parse_flow_position(value);
  } else if (flag == "flow-iters") {
    options->flow_iters = static_cast<int>(integer(1, 10000));
  } else if (flag == "flow-stages") {
    options->flow_stages = static_cast<int>(integer(1, 16));
  } else if (flag == "fcf") {
    RF_CHECK(value == "true" || value == "false", "option fcf: '", excerpt(value),
             "' is not true or false");
    options->fcf = value == "true";
  } else if (flag == "reduced-channels") {
    options->reduced_channels = integer(1, 65536);
  } else if (flag == "flow-learn") {
    options->flow_learn = ops::FlowLearned::parse(value);
  } else if (flag == "fusion") {
    options->late_fusion = value == "late";
    if (options->late_fusion) {
      options->fusion = FlowFusion::kNone;
    } else {
      try {
        options->fusion = parse_flow_fusion(value);
      } catch (const Error&) {
        RF_FAIL("option fusion: '", excerpt(value),
                "' is not none, late, add, multiply, layer-multiply or concat");
      }
    }
  } else if (flag == "input") {
    RF_CHECK(value == "rgb" || value == "flow", "option input: '", excerpt(value),
             "' is not rgb or flow");
    options->flow_input = value == "flow";
  } else if (flag == "dropout") {
    const auto v = parse_float(value);
    RF_CHECK(v && *v >= 0 && *v <= 1, "option dropout: '", excerpt(value),
             "' is not a number in [0, 1]");
    options->dropout = *v;
  } else {
    RF_FAIL("unknown model option '", flag, "'; valid options: ", join(model_option_names()));
  }
}

}  // namespace repflow
