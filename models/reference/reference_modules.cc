#include "models/reference/reference_modules.h"

#include "models/layers.h"
#include "models/reference/reference_flow_layer.h"
#include "ops/elementwise/elementwise.h"

namespace repflow {
namespace {

std::shared_ptr<Module> conv3d(int64_t in, int64_t out, std::vector<int64_t> kernel,
                               std::vector<int64_t> stride = {1, 1, 1}) {
  ops::ConvOptions options;
  options.stride = std::move(stride);
  return std::make_shared<Conv>(in, out, std::move(kernel), options, /*bias=*/false);
}

class Bottleneck3D : public Module {
 public:
  Bottleneck3D(int64_t inputs, int64_t filters, int64_t strides, bool use_projection, int64_t t) {
    // The shortcut first, in the published constructor's order of registration.
    if (use_projection) {
      shortcut_ = register_module("shortcut", std::make_shared<Sequential>());
      shortcut_
          ->add(std::make_shared<SamePadding>(std::vector<int64_t>{1, 1, 1},
                                              std::vector<int64_t>{1, strides, strides}))
          .add(conv3d(inputs, 4 * filters, {1, 1, 1}, {1, strides, strides}))
          .add(std::make_shared<BatchNorm>(4 * filters))
          .add(std::make_shared<BatchNorm>(4 * filters));
    }
    layers_ = register_module("layers", std::make_shared<Sequential>());
    layers_
        ->add(std::make_shared<SamePadding>(std::vector<int64_t>{t, 1, 1},
                                            std::vector<int64_t>{1, 1, 1}))
        .add(conv3d(inputs, filters, {t, 1, 1}))
        .add(std::make_shared<BatchNorm>(filters))
        .add(std::make_shared<ReLU>())
        .add(std::make_shared<SamePadding>(std::vector<int64_t>{1, 3, 3},
                                           std::vector<int64_t>{1, strides, strides}))
        .add(conv3d(filters, filters, {1, 3, 3}, {1, strides, strides}))
        .add(std::make_shared<BatchNorm>(filters))
        .add(std::make_shared<ReLU>())
        .add(conv3d(filters, 4 * filters, {1, 1, 1}))
        .add(std::make_shared<BatchNorm>(4 * filters));
  }

  Tensor forward(const Tensor& x) override {
    return forward_chain_add_relu(layers_->modules(), x, shortcut_ ? shortcut_->forward(x) : x);
  }

 private:
  std::shared_ptr<Sequential> layers_, shortcut_;
};

class KineticsStem : public Module {
 public:
  KineticsStem() : layers_(make_reference_kinetics_stem_layers()) {
    register_module("stem", layers_.conv);
    register_module("bn1", layers_.bn);
  }

  Tensor forward(const Tensor& x) override { return layers_.forward(x); }

 private:
  KineticsStemLayers layers_;
};

template <class T>
T arg(const nlohmann::json& args, const char* name, const std::string& kind) {
  RF_CHECK(args.is_object() && args.contains(name), kind, ": missing argument '", name, "'");
  try {
    return args[name].get<T>();
  } catch (const nlohmann::json::exception&) {
    RF_FAIL(kind, ": argument '", name, "' has the wrong type: ", args[name].dump());
  }
}

}  // namespace

std::shared_ptr<Module> make_reference_bottleneck3d(int64_t inputs, int64_t filters,
                                                    int64_t strides, bool use_projection,
                                                    int64_t temporal_kernel) {
  RF_CHECK(inputs > 0 && filters > 0 && strides > 0 && temporal_kernel > 0,
           "reference_bottleneck3d: inputs, filters, strides and T must be positive");
  return std::make_shared<Bottleneck3D>(inputs, filters, strides, use_projection, temporal_kernel);
}

std::shared_ptr<Module> make_reference_kinetics_stem() { return std::make_shared<KineticsStem>(); }

KineticsStemLayers make_reference_kinetics_stem_layers() {
  ops::ConvOptions options;
  options.stride = {2, 2, 2};
  return {std::make_shared<Conv>(3, 64, std::vector<int64_t>{7, 7, 7}, options, /*bias=*/false),
          std::make_shared<BatchNorm>(64, 1e-3f, 0.01f)};
}

Tensor KineticsStemLayers::forward(const Tensor& x) const {
  const Tensor y = bn->forward_relu(conv->forward(x));
  ops::PoolOptions pool;
  pool.kernel = {3, 3, 3};
  pool.stride = {2, 2, 2};
  return ops::max_pool(SamePadding({3, 3, 3}, {2, 2, 2}).forward(y), pool);
}

bool reference_kind_supported(const std::string& kind) {
  return kind == "reference_bottleneck3d" || kind == "reference_kinetics_stem" ||
         kind == "reference_flow_layer";
}

std::shared_ptr<Module> make_reference_module(const std::string& kind, const nlohmann::json& args) {
  if (kind == "reference_bottleneck3d")
    return make_reference_bottleneck3d(
        arg<int64_t>(args, "inputs", kind), arg<int64_t>(args, "filters", kind),
        arg<int64_t>(args, "strides", kind), arg<bool>(args, "use_projection", kind),
        arg<int64_t>(args, "T", kind));
  if (kind == "reference_kinetics_stem") return make_reference_kinetics_stem();
  if (kind == "reference_flow_layer") {
    std::vector<bool> learnable;
    for (int flag : arg<std::vector<int>>(args, "learnable", kind)) learnable.push_back(flag != 0);
    return std::make_shared<ReferenceFlowLayer>(arg<int64_t>(args, "channels", kind),
                                                arg<int64_t>(args, "bottleneck", kind),
                                                arg<int>(args, "n_iter", kind), learnable);
  }
  RF_FAIL("unknown module kind '", kind, "'");
}

}  // namespace repflow
