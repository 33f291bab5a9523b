// A weight file's metadata (training/weights_meta.h): what is written reads back, missing model
// options take the model's defaults, and bad fields are errors naming the file and the field.
#include "training/weights_meta.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "training/data/list_parsing.h"

namespace repflow {
namespace {

TEST(WeightsMeta, RoundTripsEveryField) {
  WeightsMeta meta;
  meta.model = resolve_model("resnet10_2d_tiny", {{"classes", "3"}});
  meta.class_names = {"walk", "run", "jump"};
  meta.input.frames = 8;
  meta.input.stride = 2;
  meta.input.resize = 0;
  meta.input.size = 32;
  meta.input.clips = 5;
  meta.input.decode_size = 64;
  meta.input.norm = paper_normalisation();
  const WeightsMeta back = weights_meta_from_json(weights_meta_to_json(meta), "w.json");
  ASSERT_TRUE(back.model.has_value());
  EXPECT_EQ(back.model->name, "resnet10_2d");
  EXPECT_EQ(back.model->options, meta.model->options);
  EXPECT_EQ(back.class_names, meta.class_names);
  EXPECT_EQ(back.input.frames, 8);
  EXPECT_EQ(back.input.stride, 2);
  EXPECT_EQ(back.input.resize, 0);
  EXPECT_EQ(back.input.size, 32);
  EXPECT_EQ(back.input.clips, 5);
  EXPECT_EQ(back.input.decode_size, 64);
  ASSERT_TRUE(back.input.norm.has_value());
  EXPECT_EQ(back.input.norm->std, paper_normalisation().std);
  // Nothing recorded, nothing known.
  const WeightsMeta empty = weights_meta_from_extra(nlohmann::json::object(), "w.json");
  EXPECT_FALSE(empty.model.has_value());
  EXPECT_FALSE(empty.input.frames.has_value());
}

TEST(WeightsMeta, OptionsLeftOutTakeTheModelsDefaults) {
  const WeightsMeta meta = weights_meta_from_json(
      {{"model", {{"name", "kinetics_repflow_r50"}, {"options", {{"classes", "7"}}}}}}, "k.json");
  ASSERT_TRUE(meta.model.has_value());
  EXPECT_EQ(meta.model->options.at("classes"), "7");
  EXPECT_EQ(meta.model->options.at("dropout"), "0.5");
  EXPECT_EQ(meta.model->options.at("reduced-channels"), "32");
}

TEST(WeightsMeta, BadFieldsNameTheFileAndTheField) {
  const std::pair<nlohmann::json, std::string> cases[] = {
      {nlohmann::json::array(), "w.json: meta is not an object"},
      {{{"model", {{"options", nlohmann::json::object()}}}}, "w.json: meta.model has no name"},
      {{{"model", {{"name", "resnet7_2d"}}}}, "unknown model 'resnet7_2d'"},
      {{{"model", {{"name", "kinetics_repflow_r50"}, {"options", {{"width", "8"}}}}}},
       "w.json: meta.model: option width does not apply to kinetics_repflow_r50"},
      {{{"model", {{"name", "resnet18_2d"}, {"options", {{"width", 8}}}}}},
       "meta.model.options.width is not a string"},
      {{{"class_names", {"a", 3}}}, "meta.class_names holds a value that is not a string"},
      {{{"class_names", std::vector<std::string>(kMaxClasses + 1, "c")}},
       "w.json: meta.class_names has 100001 names, more than the 100000 classes a model may have"},
      {{{"input", {{"frames", 0}}}}, "meta.input.frames is not an integer in 1..10000, got 0"},
      {{{"input", {{"frames", 2147483647}}}},
       "w.json: meta.input.frames is not an integer in 1..10000, got 2147483647"},
      {{{"input", {{"size", 1.5}}}}, "meta.input.size is not an integer in 0..7680, got 1.5"},
      {{{"input", {{"clips", 1001}}}}, "meta.input.clips is not an integer in 1..1000, got 1001"},
      {{{"input", {{"norm", {{"mean", {0, 0}}, {"std", {1, 1, 1}}}}}}},
       "meta.input.norm.mean is not an array of three numbers"},
      {{{"input", {{"norm", {{"mean", {0, 0, 0}}, {"std", {1, 0, 1}}}}}}},
       "meta.input.norm.std holds a zero"},
      {{{"input", {{"norm", {{"mean", {0, 0, 0}}, {"std", {1, 1e-30, 1}}}}}}},
       "w.json: meta.input.norm: channel 1 (mean 0, std 1e-30) would normalise pixels"},
  };
  for (const auto& [json, fragment] : cases) {
    SCOPED_TRACE(json.dump());
    EXPECT_ERROR_CONTAINS(weights_meta_from_json(json, "w.json"), fragment);
  }
}

TEST(WeightsMeta, NormalisationTextReadsBack) {
  EXPECT_EQ(normalisation_text(imagenet_normalisation()), "imagenet");
  EXPECT_EQ(normalisation_text(paper_normalisation()), "paper");
  const Normalisation n{{0.5f, 0.25f, 0.125f}, {0.25f, 2.0f, -1.0f}};
  const std::string text = normalisation_text(n);
  EXPECT_EQ(text, "0.5,0.25,0.125/0.25,2,-1");
  const Normalisation back = parse_normalisation(text, "--norm");
  EXPECT_EQ(back.mean, n.mean);
  EXPECT_EQ(back.std, n.std);
  for (const char* bad : {"0,0,0/1,1", "0,0,0/1,0,1", "0,0/1,1,1,1", "a,b,c/d,e,f", "0,0,0/1,1,1x",
                          "0,0,0/1e-45,1e-45,1e-45", "1e30,0,0/1,1,1"}) {
    SCOPED_TRACE(bad);
    EXPECT_ERROR_CONTAINS(parse_normalisation(bad, "--norm"), "--norm");
  }
}

}  // namespace
}  // namespace repflow
