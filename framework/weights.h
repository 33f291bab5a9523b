#pragma once
// Weight files: named float32 tensors in one JSON document, in the format of docs/weights.md
// (also what tools/convert_torch.py writes). A module's state dict saves as is:
// `save_weights(path, module.state_dict())`; models/weights_io.h loads a file into a module.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "framework/atomic_file.h"
#include "framework/json_tensor.h"
#include "framework/tensor.h"

namespace repflow {

// Writes atomically (write_file_atomic): a failed save keeps the old file. Duplicate names and
// non-finite values are Errors naming the tensor, raised before anything is written. Base64 is
// the default because plain arrays of 25M parameters take several times longer to read.
void save_weights(const std::string& path,
                  const std::vector<std::pair<std::string, Tensor>>& tensors,
                  TensorEncoding encoding = TensorEncoding::kBase64);
void save_weights(const std::string& path, const std::map<std::string, Tensor>& tensors,
                  TensorEncoding encoding = TensorEncoding::kBase64);

// Reads a weight file in either encoding, as CPU tensors. Errors name the file and the tensor.
std::map<std::string, Tensor> load_weights(const std::string& path);

// The same with extra top-level fields beside "tensors" (docs/weights.md: readers ignore fields
// they do not know): training checkpoints keep the trainer's state there, so a checkpoint is
// also a weight file. `extra` must be an object and must not use the format's own keys.
void save_weights(const std::string& path,
                  const std::vector<std::pair<std::string, Tensor>>& tensors,
                  const nlohmann::json& extra, TensorEncoding encoding = TensorEncoding::kBase64);
// Reads the tensors and returns every top-level field other than format, version and tensors.
std::map<std::string, Tensor> load_weights(const std::string& path, nlohmann::json* extra);

}  // namespace repflow
