#pragma once
// The modules of the paper's published PyTorch code that this project reproduces exactly
// (../shared/fixtures/README.md), built by kind and constructor arguments as the parity
// fixtures name them.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "models/layers.h"
#include "models/module.h"

namespace repflow {

// kinetics_2p1d_model.Bottleneck3D(inputs, filters, strides, use_projection, T).
std::shared_ptr<Module> make_reference_bottleneck3d(int64_t inputs, int64_t filters,
                                                    int64_t strides, bool use_projection,
                                                    int64_t temporal_kernel);
// The stem of kinetics_2p1d_model.ResNet3D: conv 7 stride 2 -> BN(eps 1e-3, momentum 0.01) ->
// ReLU -> same padding -> max pool 3 stride 2.
std::shared_ptr<Module> make_reference_kinetics_stem();

// The stem's two layers with parameters, apart: ResNet3D holds them as its own children `stem`
// and `bn1` (not under a `stem.` prefix), and so does models/reference/kinetics.h.
struct KineticsStemLayers {
  std::shared_ptr<Module> conv;
  std::shared_ptr<BatchNorm> bn;
  Tensor forward(const Tensor& x) const;
};
KineticsStemLayers make_reference_kinetics_stem_layers();

// Builds a fixture's module from meta.module ({"kind": ..., "args": {...}}). An unknown kind or
// a missing or mistyped argument is an Error naming it.
std::shared_ptr<Module> make_reference_module(const std::string& kind, const nlohmann::json& args);
bool reference_kind_supported(const std::string& kind);

}  // namespace repflow
