// Weight files (docs/weights.md): exact round trips in both encodings, the errors for every
// kind of bad file, strict loading into a module, and the atomic write.
#include "framework/weights.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include "framework/json_tensor.h"
#include "models/layers.h"
#include "models/weights_io.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

std::vector<uint32_t> bits(const Tensor& t) {
  const std::vector<float> v = t.to_vector();
  std::vector<uint32_t> b(v.size());
  if (!v.empty()) std::memcpy(b.data(), v.data(), v.size() * 4);  // data() of empty may be null
  return b;
}

// Every kind of finite float: random bit patterns (all exponents, denormals included), signed
// zeros, the extremes, and values whose shortest decimals are long.
std::vector<float> awkward_floats(size_t n) {
  std::vector<float> v = {0.0f,
                          -0.0f,
                          std::numeric_limits<float>::denorm_min(),
                          -std::numeric_limits<float>::denorm_min(),
                          std::numeric_limits<float>::min() * 0.999f,
                          std::numeric_limits<float>::min(),
                          std::numeric_limits<float>::max(),
                          -std::numeric_limits<float>::max(),
                          0.1f,
                          1.0f / 3.0f,
                          16777217.0f,
                          1e-30f,
                          3e38f};
  std::mt19937 rng(7);
  while (v.size() < n) {
    const uint32_t b = rng();
    float f;
    std::memcpy(&f, &b, 4);
    if (std::isfinite(f)) v.push_back(f);
  }
  return v;
}

const TensorEncoding kEncodings[] = {TensorEncoding::kBase64, TensorEncoding::kPlain};

TEST(Weights, RoundTripIsBitExactInBothEncodings) {
  const std::string dir = fresh_dir("roundtrip");
  const std::vector<std::pair<std::string, Tensor>> tensors = {
      {"layer.0.weight", Tensor::from_vector({50, 20, 20}, awkward_floats(20000))},
      {"scalar", Tensor::scalar(-0.0f)},
      {"empty", Tensor::zeros({0, 3})},
      {"odd.bytes", Tensor::from_vector({1}, {1.5f})},
      {"name with \"quotes\" and \xc3\xa9", Tensor::from_vector({2}, {-1e-40f, 7e-45f})},
  };
  for (const TensorEncoding encoding : kEncodings) {
    SCOPED_TRACE(encoding == TensorEncoding::kBase64 ? "base64" : "plain");
    const std::string path = dir + "/w.json";
    save_weights(path, tensors, encoding);
    const std::map<std::string, Tensor> back = load_weights(path);
    ASSERT_EQ(back.size(), tensors.size());
    for (const auto& [name, t] : tensors) {
      SCOPED_TRACE(name);
      ASSERT_TRUE(back.count(name));
      EXPECT_EQ(back.at(name).shape(), t.shape());
      EXPECT_EQ(bits(back.at(name)), bits(t));
    }
  }
}

TEST(Weights, NonContiguousTensorsAndTheMapOverloadSaveTheirValues) {
  const std::string path = fresh_dir("views") + "/w.json";
  const Tensor base = Tensor::arange(0, 6).as_strided({3, 2}, {1, 3}, 0);
  save_weights(path, std::map<std::string, Tensor>{{"t", base}});
  EXPECT_EQ(load_weights(path).at("t").to_vector(), base.to_vector());
}

TEST(Weights, TheDocumentedLayoutIsWhatIsWritten) {
  const std::string path = fresh_dir("layout") + "/w.json";
  save_weights(path, std::map<std::string, Tensor>{{"a", Tensor::from_vector({2}, {1, -2})}});
  const nlohmann::json doc = read_json_file(path);
  EXPECT_EQ(doc["format"], "repflow-weights");
  EXPECT_EQ(doc["version"], 1);
  EXPECT_EQ(doc["tensors"]["a"]["shape"], nlohmann::json({2}));
  EXPECT_EQ(doc["tensors"]["a"]["encoding"], "base64-f32le");
  // 1.0f = 0x3f800000 and -2.0f = 0xc0000000, little-endian.
  EXPECT_EQ(doc["tensors"]["a"]["data"], "AACAPwAAAMA=");
  // Python: zlib.crc32(struct.pack("<ff", 1, -2)), the same in either encoding.
  EXPECT_EQ(doc["tensors"]["a"]["crc32"], 3280414294u);
  save_weights(path, std::map<std::string, Tensor>{{"a", Tensor::from_vector({2}, {1, -2})}},
               TensorEncoding::kPlain);
  EXPECT_EQ(read_json_file(path)["tensors"]["a"],
            nlohmann::json::parse(R"({"shape": [2], "crc32": 3280414294, "data": [1.0, -2.0]})"));
}

// Damage that leaves valid JSON and valid floats (a flipped bit, a changed digit) is caught by
// the tensor's crc32 and named, in both encodings.
TEST(Weights, DataThatDoesNotMatchItsCrc32IsRefusedByName) {
  const std::string path = fresh_dir("crc") + "/w.json";
  const std::map<std::string, Tensor> tensors = {
      {"conv1.weight", Tensor::from_vector({4, 25}, awkward_floats(100))},
      {"fc.bias", Tensor::from_vector({3}, {0.5f, -1.0f, 2.0f})}};
  const std::string refused = path + ": tensor 'conv1.weight': data does not match its crc32";

  save_weights(path, tensors, TensorEncoding::kBase64);
  const nlohmann::json doc = read_json_file(path);
  const std::string data = doc["tensors"]["conv1.weight"]["data"];
  // Replacing a base64 digit by the one whose value differs in the lowest bit flips exactly one
  // bit of the decoded bytes; every position of the middle of the string is tried.
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t at = 100; at < 140; ++at) {
    nlohmann::json bad = doc;
    std::string flipped = data;
    flipped[at] = alphabet[alphabet.find(data[at]) ^ 1];
    bad["tensors"]["conv1.weight"]["data"] = flipped;
    write_text(path, bad.dump());
    EXPECT_ERROR_CONTAINS(load_weights(path), refused);
  }

  save_weights(path, tensors, TensorEncoding::kPlain);
  nlohmann::json plain = read_json_file(path);
  plain["tensors"]["conv1.weight"]["data"][7] = 0.25;
  write_text(path, plain.dump());
  EXPECT_ERROR_CONTAINS(load_weights(path), refused);
  // The crc32 itself damaged: the data is fine, the two disagree all the same.
  save_weights(path, tensors, TensorEncoding::kPlain);
  plain = read_json_file(path);
  plain["tensors"]["fc.bias"]["crc32"] = plain["tensors"]["fc.bias"]["crc32"].get<uint32_t>() ^ 1;
  write_text(path, plain.dump());
  EXPECT_ERROR_CONTAINS(load_weights(path),
                        path + ": tensor 'fc.bias': data does not match its crc32");
}

TEST(Weights, ACrc32ThatIsNotAnUnsigned32BitIntegerIsRefused) {
  const std::string path = fresh_dir("crc_type") + "/w.json";
  save_weights(path, std::map<std::string, Tensor>{{"fc.bias", Tensor::ones({2})}});
  const nlohmann::json doc = read_json_file(path);
  for (const nlohmann::json& crc : std::vector<nlohmann::json>{
           "12345", 1.5, -1, int64_t{4294967296}, true, nullptr, nlohmann::json::array()}) {
    SCOPED_TRACE(crc.dump());
    nlohmann::json bad = doc;
    bad["tensors"]["fc.bias"]["crc32"] = crc;
    write_text(path, bad.dump());
    EXPECT_ERROR_CONTAINS(load_weights(path),
                          path + ": tensor 'fc.bias': crc32 is not an integer in 0..4294967295");
  }
}

// Files written before the field existed (and the parity fixtures) have no crc32: they load.
TEST(Weights, TensorsWithoutCrc32StillLoad) {
  const std::string path = fresh_dir("no_crc") + "/w.json";
  const std::map<std::string, Tensor> tensors = {
      {"a", Tensor::from_vector({3}, {1.0f, -0.0f, 3e38f})}, {"b", Tensor::zeros({0, 2})}};
  for (const TensorEncoding encoding : kEncodings) {
    save_weights(path, tensors, encoding);
    nlohmann::json doc = read_json_file(path);
    for (auto& [name, t] : doc["tensors"].items()) {
      ASSERT_TRUE(t.contains("crc32")) << name;
      t.erase("crc32");
    }
    write_text(path, doc.dump());
    const std::map<std::string, Tensor> back = load_weights(path);
    for (const auto& [name, t] : tensors) EXPECT_EQ(bits(back.at(name)), bits(t)) << name;
  }
}

class Tiny : public Module {
 public:
  Tiny() {
    register_parameter("weight", Tensor::zeros({2, 3}));
    register_buffer("scale", Tensor::zeros({3}));
  }
  Tensor forward(const Tensor& x) override { return x; }
};

TEST(Weights, ExtraFieldsTravelBesideTheTensorsAndPlainReadersIgnoreThem) {
  const std::string path = fresh_dir("extra") + "/w.json";
  const nlohmann::json extra = {{"trainer", {{"epoch", 3}, {"schedule", "cosine"}}}};
  save_weights(path, NamedTensors{{"a", Tensor::from_vector({2}, {1, -2})}}, extra);
  nlohmann::json back;
  const std::map<std::string, Tensor> tensors = load_weights(path, &back);
  EXPECT_EQ(back, extra);
  EXPECT_EQ(tensors.at("a").to_vector(), (std::vector<float>{1, -2}));
  EXPECT_EQ(load_weights(path).at("a").to_vector(), (std::vector<float>{1, -2}));
  EXPECT_ERROR_CONTAINS(save_weights(path, NamedTensors{}, nlohmann::json{{"tensors", 1}}),
                        "extra field 'tensors'");
  EXPECT_ERROR_CONTAINS(save_weights(path, NamedTensors{}, nlohmann::json::array()),
                        "must be a JSON object");
  EXPECT_EQ(load_weights(path, &back).size(), 1u);
}

TEST(Weights, LoadIntoModuleCopiesEveryValue) {
  Sequential net;
  net.add(std::make_shared<Conv>(2, 3, std::vector<int64_t>{3})).add(std::make_shared<Tiny>());
  Generator gen(1);
  std::map<std::string, Tensor> state;
  for (const auto& [name, t] : net.state_dict()) state[name] = Tensor::normal(t.shape(), 0, 1, gen);
  const std::string path = fresh_dir("module") + "/w.json";
  save_weights(path, state);
  load_weights_into(net, path);
  for (const auto& [name, t] : net.state_dict()) EXPECT_EQ(bits(t), bits(state.at(name))) << name;
  // And back out: a module's state dict saves as is.
  save_weights(path, net.state_dict());
  EXPECT_EQ(load_weights(path).size(), state.size());
}

TEST(Weights, StrictLoadNamesTheFileAndEveryBadName) {
  Tiny tiny;
  const std::string path = fresh_dir("strict") + "/w.json";
  save_weights(path, std::map<std::string, Tensor>{{"weight", Tensor::zeros({3, 2})},
                                                   {"extra", Tensor::zeros({1})},
                                                   {"other", Tensor::zeros({1})}});
  try {
    load_weights_into(tiny, path);
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find("mis-shaped: weight (expected [2,3], got [3,2])"), std::string::npos) << m;
    EXPECT_NE(m.find("missing: scale"), std::string::npos) << m;
    EXPECT_NE(m.find("unexpected: extra other"), std::string::npos) << m;
  }
  // Hostile names are listed shortened, and only the first of many: 200 names of 100 KB once
  // made a 20 MB message.
  std::map<std::string, Tensor> many;
  for (int i = 0; i < 200; ++i)
    many.emplace(std::string(100000, 'a' + i % 26) + std::to_string(i), Tensor::zeros({1}));
  const std::string messy = fresh_dir("strict_many") + "/many.json";
  save_weights(messy, many);
  try {
    load_weights_into(tiny, messy);
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_LT(m.size(), 5000u);
    EXPECT_NE(m.find(" ... (200 in all)"), std::string::npos);
  }
  // Without strict, what fits is loaded and the rest reported: a mis-shaped tensor keeps its
  // value like a missing one.
  const std::vector<float> before = tiny.state_dict()[0].second.to_vector();
  LoadReport report = load_weights_into(tiny, path, false);
  EXPECT_EQ(report.loaded, 0);
  EXPECT_EQ(report.mismatched, std::vector<std::string>{"weight (expected [2,3], got [3,2])"});
  EXPECT_EQ(report.missing, std::vector<std::string>{"scale"});
  EXPECT_EQ(report.unexpected, (std::vector<std::string>{"extra", "other"}));
  EXPECT_EQ(tiny.state_dict()[0].second.to_vector(), before);
  const std::string text = describe_partial_load(path, report);
  EXPECT_NE(text.find(path + ": loaded 0 of 2 tensors"), std::string::npos) << text;
  EXPECT_NE(text.find("skipped, mis-shaped: weight (expected [2,3], got [3,2])"), std::string::npos)
      << text;
  save_weights(path, std::map<std::string, Tensor>{{"weight", Tensor::ones({2, 3})},
                                                   {"extra", Tensor::zeros({1})}});
  report = load_weights_into(tiny, path, false);
  EXPECT_EQ(report.loaded, 1);
  EXPECT_EQ(tiny.state_dict()[0].second.to_vector(), std::vector<float>(6, 1.0f));
}

TEST(Weights, TruncatedOrMissingFilesAreErrorsNamingTheFile) {
  const std::string dir = fresh_dir("truncated");
  const std::string path = dir + "/w.json";
  for (const TensorEncoding encoding : kEncodings) {
    save_weights(path, std::map<std::string, Tensor>{{"a", Tensor::ones({100})}}, encoding);
    const std::string text = read_text(path);
    for (const size_t keep : {size_t{0}, size_t{1}, text.size() / 2, text.size() - 1}) {
      write_text(path, text.substr(0, keep));
      EXPECT_ERROR_CONTAINS(load_weights(path), path + ": not valid JSON (truncated or corrupt)");
    }
  }
  EXPECT_ERROR_CONTAINS(load_weights(dir + "/absent.json"), dir + "/absent.json: cannot open");
  // Read until memory runs out, were it not refused.
  EXPECT_ERROR_CONTAINS(load_weights("/dev/zero"), "/dev/zero: not a regular file");
  EXPECT_ERROR_CONTAINS(load_weights(dir), dir + ": not a regular file");
}

// nlohmann's dump and copy recurse once per level: a document nested 100,000 deep crashed them
// with a stack overflow before the depth was checked while parsing. 63 levels still parse.
TEST(Weights, DeeplyNestedJsonIsAnErrorNotACrash) {
  const std::string path = fresh_dir("deep") + "/w.json";
  for (const size_t depth : {size_t{1000}, size_t{1000000}}) {
    write_text(path, R"({"format": "repflow-weights", "version": )" + std::string(depth, '[') +
                         std::string(depth, ']') + "}");
    EXPECT_ERROR_CONTAINS(load_weights(path), path + ": JSON nested deeper than 64 levels");
  }
  const std::string deepest =
      std::string(kMaxJsonDepth - 1, '[') + std::string(kMaxJsonDepth - 1, ']');
  EXPECT_EQ(parse_json(deepest, "text").dump(), deepest);
}

// The checked parser builds the document nlohmann's own parser does, for every kind of value.
TEST(Weights, ParseJsonBuildsWhatNlohmannBuilds) {
  const std::string text =
      R"({"a": [1, -2, 3.5, 1e300, 18446744073709551615, "s\u0000t", true, false, null, [], {}],)"
      R"( "b": {"c": [{"d": [[{"e": 1}], {"f": {}}]}, 2], "g": "\u00e9"}, "": 0})";
  EXPECT_EQ(parse_json(text, "text"), nlohmann::json::parse(text));
  EXPECT_EQ(parse_json("[[1, [2]], [3]]", "text"), nlohmann::json::parse("[[1, [2]], [3]]"));
  EXPECT_EQ(parse_json(" 7 ", "text"), nlohmann::json(7));
}

// A Kinetics annotation file holds some 250,000 small objects: once parsed in time quadratic in
// their count (a run hung at start-up), now as a whole in a moment.
TEST(Weights, ParseJsonTakesManySmallObjects) {
  std::string text = "{";
  constexpr int kVideos = 250000;
  for (int i = 0; i < kVideos; ++i)
    text += (i ? ",\"v" : "\"v") + std::to_string(i) + R"(":{"annotations":{"label":"x"}})";
  text += "}";
  const nlohmann::json parsed = parse_json(text, "annotations");
  EXPECT_EQ(parsed.size(), static_cast<size_t>(kVideos));
  EXPECT_EQ(parsed.at("v123456").at("annotations").at("label"), "x");
}

// nlohmann's lexer ends the input at a NUL byte, which let anything after one through.
TEST(Weights, ParseJsonRefusesANulByte) {
  EXPECT_ERROR_CONTAINS(parse_json(std::string("{}\0garbage", 10), "w.json"),
                        "w.json: not JSON text: a NUL byte at offset 2");
  EXPECT_ERROR_CONTAINS(parse_json(std::string("{\"a\":\0 1}", 9), "w.json"),
                        "a NUL byte at offset 5");
}

// Each case: a file's text and a fragment its error must contain, after "<path>: ".
struct BadFile {
  std::string text, error;
};

TEST(Weights, BadContentIsAnErrorNamingFileAndTensor) {
  const std::string path = fresh_dir("bad") + "/w.json";
  const auto file = [](const std::string& tensors) {
    return R"({"format": "repflow-weights", "version": 1, "tensors": )" + tensors + "}";
  };
  const std::vector<BadFile> cases = {
      {"[1, 2]", "not a weight file"},
      {R"({"format": "other", "version": 1, "tensors": {}})", "not a weight file"},
      {R"({"format": "repflow-weights", "version": 2, "tensors": {}})",
       "format version 2 is not supported"},
      {R"({"format": "repflow-weights", "tensors": {}})", "format version (missing)"},
      {R"({"format": "repflow-weights", "version": 1.0, "tensors": {}})",
       "format version 1.0 is not supported"},
      {R"({"format": "repflow-weights", "version": [1, 1, 1], "tensors": {}})",
       "format version an array of 3 values is not supported"},
      {file(R"({"a": {"shape": [1], "data": [1]}, "a": {"shape": [1], "data": [2]}})"),
       "key \"a\" appears twice in one object"},
      {file(R"({"a": {"shape": [1], "data": [1], "data": [2]}})"), "key \"data\" appears twice"},
      {file(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']')),
       "JSON nested deeper than 64 levels"},
      {file("[]"), "\"tensors\" must be an object"},
      {file(R"({"a": 3})"), "tensor 'a': expected an object"},
      {file(R"({"a": {"shape": "2", "data": [1, 2]}})"), "tensor 'a': missing \"shape\" array"},
      {file(R"({"a": {"shape": [2]}})"), "tensor 'a': missing \"data\""},
      {file(R"({"a": {"shape": [-2], "data": []}})"), "tensor 'a': shape entry -2"},
      {file(R"({"a": {"shape": [1.5], "data": [1]}})"), "tensor 'a': shape entry 1.5"},
      {file(R"({"a": {"shape": [4294967296, 4294967296], "data": []}})"),
       "tensor 'a': shape is too large"},
      {file(R"({"a": {"shape": [0, 4611686018427387904, 4611686018427387904], "data": []}})"),
       "tensor 'a': shape is too large"},
      {file(R"({"a": {"shape": [1,1,1,1,1,1,1,1,1], "data": [1]}})"), "more than 8 dimensions"},
      {file(R"({"a": {"shape": [2], "data": [1, "x"]}})"), "tensor 'a': data[1] is not a number"},
      {file(R"({"a": {"shape": [2], "data": "AAAA"}})"), "\"data\" must be an array of numbers"},
      {file(R"({"a": {"shape": [3], "data": [1, 2]}})"), "needs 3 values but data has 2"},
      {file(R"({"a": {"shape": [1], "data": [1e39]}})"), "data[0] = 1e+39 is outside the float32"},
      {file(R"({"a": {"shape": [1], "encoding": "hex", "data": "00"}})"),
       "tensor 'a': unknown encoding \"hex\""},
      {file(R"({"a": {"shape": [1], "encoding": "base64-f32le", "data": [0]}})"),
       "tensor 'a': \"data\" must be a base64 string"},
      {file(R"({"a": {"shape": [1], "encoding": "base64-f32le", "data": "AAA*"}})"),
       "tensor 'a': invalid base64 character at offset 3"},
      {file(R"({"a": {"shape": [1], "encoding": "base64-f32le", "data": "AA=A"}})"),
       "invalid base64 character at offset 2"},
      {file(R"({"a": {"shape": [1], "encoding": "base64-f32le", "data": "AAAAA"}})"),
       "not a multiple of 4 (truncated?)"},
      {file(R"({"a": {"shape": [2], "encoding": "base64-f32le", "data": "AAAAAA=="}})"),
       "needs 8 bytes but data has 4"},
      // 0x7fc00000 (NaN) and 0x7f800000 (+inf) as the second value.
      {file(R"({"a": {"shape": [2], "encoding": "base64-f32le", "data": "AAAAAAAAwH8="}})"),
       "tensor 'a': data[1] is nan (only finite values are allowed)"},
      {file(R"({"a": {"shape": [2], "encoding": "base64-f32le", "data": "AAAAAAAAgH8="}})"),
       "data[1] is inf"},
      {file(R"({"a": {"shape": [1], "data": [NaN]}})"), "not valid JSON"},
  };
  for (const BadFile& c : cases) {
    SCOPED_TRACE(c.text);
    write_text(path, c.text);
    EXPECT_ERROR_CONTAINS(load_weights(path), path + ": ");
    EXPECT_ERROR_CONTAINS(load_weights(path), c.error);
  }
}

TEST(Weights, SavingNonFiniteValuesOrDuplicateNamesWritesNothing) {
  const std::string dir = fresh_dir("reject");
  const std::string path = dir + "/w.json";
  for (const float bad : {std::nanf(""), std::numeric_limits<float>::infinity()})
    for (const TensorEncoding encoding : kEncodings)
      EXPECT_ERROR_CONTAINS(
          save_weights(path,
                       std::map<std::string, Tensor>{{"b", Tensor::from_vector({2}, {0, bad})}},
                       encoding),
          path + ": tensor 'b': data[1] is");
  const std::vector<std::pair<std::string, Tensor>> twice = {{"a", Tensor::ones({1})},
                                                             {"a", Tensor::ones({1})}};
  EXPECT_ERROR_CONTAINS(save_weights(path, twice), "tensor 'a': the name appears twice");
  EXPECT_TRUE(list_dir(dir).empty());
}

TEST(Weights, SaveLeavesOnlyTheFile) {
  const std::string dir = fresh_dir("only");
  save_weights(dir + "/w.json", std::map<std::string, Tensor>{{"a", Tensor::ones({3})}});
  save_weights(dir + "/w.json", std::map<std::string, Tensor>{{"a", Tensor::ones({4})}});
  EXPECT_EQ(list_dir(dir), std::vector<std::string>{"w.json"});
  EXPECT_EQ(load_weights(dir + "/w.json").at("a").shape(), Shape{4});
}

TEST(Weights, SaveIntoAMissingDirectoryIsAnError) {
  const std::string dir = fresh_dir("missing");
  EXPECT_ERROR_CONTAINS(save_weights(dir + "/no/such/w.json",
                                     std::map<std::string, Tensor>{{"a", Tensor::ones({1})}}),
                        dir + "/no/such/w.json: cannot create the temporary file");
  EXPECT_TRUE(list_dir(dir).empty());
}

TEST(Weights, ASaveOverSomethingElseThanAFileKeepsWhatWasThere) {
  const std::string dir = fresh_dir("rename");
  // A directory is not replaced by a file (nor is a device or a FIFO: framework/atomic_file.h).
  const std::string path = dir + "/w.json";
  ASSERT_EQ(mkdir(path.c_str(), 0755), 0);
  EXPECT_ERROR_CONTAINS(save_weights(path, std::map<std::string, Tensor>{{"a", Tensor::ones({1})}}),
                        path + ": exists and is not a regular file");
  EXPECT_EQ(list_dir(dir), std::vector<std::string>{"w.json"});
  EXPECT_TRUE(std::filesystem::is_directory(path));
}

}  // namespace
}  // namespace repflow
