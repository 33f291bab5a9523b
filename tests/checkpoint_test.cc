// Training checkpoints (training/checkpoint.h): every group comes back bit for bit with its
// names, the trainer state survives, and files that are not checkpoints are refused by name.
#include "training/checkpoint.h"

#include <filesystem>

#include "framework/weights.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

Tensor random_tensor(std::vector<int64_t> shape, uint64_t seed) {
  Generator gen(seed);
  return Tensor::normal(shape, 0.0f, 1.0f, gen);
}

TEST(Checkpoint, EveryGroupAndTheTrainerStateRoundTrip) {
  const std::string path = test_tmp("checkpoint") + ".json";
  Checkpoint c;
  c.model = {{"conv.weight", random_tensor({4, 3, 3, 3}, 1)},
             {"bn.running_var", random_tensor({4}, 2)}};
  c.optimizer = {{"momentum.conv.weight", random_tensor({4, 3, 3, 3}, 3)}};
  c.average = {{"conv.weight", random_tensor({4, 3, 3, 3}, 4)}};
  c.trainer = {{"epoch", 2}, {"step", 17}, {"rng", {{"seed", 5}, {"offset", 99}}}};
  save_checkpoint(path, c);
  const Checkpoint back = load_checkpoint(path);
  EXPECT_EQ(back.trainer, c.trainer);
  const auto same = [](const NamedTensors& a, const NamedTensors& b) {
    std::map<std::string, std::vector<float>> ma, mb;
    for (const auto& [n, t] : a) ma[n] = t.to_vector();
    for (const auto& [n, t] : b) mb[n] = t.to_vector();
    return ma == mb;
  };
  EXPECT_TRUE(same(back.model, c.model));
  EXPECT_TRUE(same(back.optimizer, c.optimizer));
  EXPECT_TRUE(same(back.average, c.average));
  // A checkpoint is also a weight file, its tensors named by group.
  EXPECT_EQ(load_weights(path).count("model/conv.weight"), 1u);

  // Every tensor carries its crc32, the optimizer's state too, and damage to any is named.
  nlohmann::json doc = read_json_file(path);
  for (const auto& [name, t] : doc["tensors"].items())
    EXPECT_TRUE(t.contains("crc32") && t["crc32"].is_number_unsigned()) << name;
  std::string& data =
      doc["tensors"]["optimizer/momentum.conv.weight"]["data"].get_ref<std::string&>();
  data[8] = data[8] == 'A' ? 'B' : 'A';
  write_text(path, doc.dump());
  EXPECT_ERROR_CONTAINS(load_checkpoint(path), path +
                                                   ": tensor 'optimizer/momentum.conv.weight': "
                                                   "data does not match its crc32");
}

TEST(Checkpoint, PlainWeightFilesAndStrayTensorsAreRefused) {
  const std::string path = test_tmp("not_a_checkpoint") + ".json";
  save_weights(path, NamedTensors{{"conv.weight", random_tensor({2}, 1)}});
  EXPECT_ERROR_CONTAINS(load_checkpoint(path), "not a training checkpoint");
  save_weights(path, NamedTensors{{"conv.weight", random_tensor({2}, 1)}},
               nlohmann::json{{"trainer", nlohmann::json::object()}});
  EXPECT_ERROR_CONTAINS(load_checkpoint(path), "'conv.weight' belongs to no checkpoint group");
  EXPECT_ERROR_CONTAINS(load_checkpoint(path + ".missing"), ".missing");
}

}  // namespace
}  // namespace repflow
