// tools/convert_torch.py end to end: PyTorch checkpoints of every supported kind, converted and
// read back by load_weights, value for value, and the metadata its flags write, read back by
// weights_meta_from_extra. Needs Debian's /usr/bin/python3 with torch; skips visibly without it.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "framework/layout.h"
#include "framework/weights.h"
#include "models/registry.h"
#include "tests/test_util.h"
#include "training/data/frame_dataset.h"
#include "training/data/list_parsing.h"
#include "training/data/video_frames.h"
#include "training/weights_meta.h"

namespace repflow {
namespace {

std::string g_script;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Whether a line of `output` starts with `message`: every converter error, a usage error too, is
// one line starting "error:".
bool has_line(const std::string& output, const std::string& message) {
  return output.compare(0, message.size(), message) == 0 ||
         output.find("\n" + message) != std::string::npos;
}

std::string bytes_of(const Tensor& t) {
  const std::vector<float> v = t.to_vector();
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// A conv + batch norm behind DataParallel (names "module.0.weight", ...,
// "module.1.num_batches_tracked") with awkward values, saved five ways (the state dict in the
// legacy, pre-zip format too); the expected float32 bytes of each tensor go to
// expected/<name>.bin.
const char kMakeCheckpoints[] = R"(
import os, sys, torch, torch.nn as nn
out = sys.argv[1]
torch.manual_seed(0)
net = nn.DataParallel(nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)))
with torch.no_grad():
    w = net.module[0].weight.view(-1)
    w[:5] = torch.tensor([-0.0, 1e-40, 3e38, -1e-30, 0.1])
    net.module[1].running_var.copy_(torch.tensor([0.5, 7e-45, 2.0]))
    net.module[1].num_batches_tracked.fill_(12)
sd = net.state_dict()
torch.save(sd, os.path.join(out, "state_dict.pt"))
torch.save({"epoch": 3, "state_dict": sd}, os.path.join(out, "wrapped.pt"))
torch.save({"model": sd, "optimizer": {}}, os.path.join(out, "model.pt"))
torch.save(net, os.path.join(out, "whole.pt"))
torch.save(sd, os.path.join(out, "legacy.pt"), _use_new_zipfile_serialization=False)
os.makedirs(os.path.join(out, "expected"), exist_ok=True)
for name, t in net.module.state_dict().items():
    if not name.endswith("num_batches_tracked"):
        t.numpy().astype("<f4").tofile(os.path.join(out, "expected", name + ".bin"))
)";

// Runs one of the kMake* scripts, which writes its checkpoints into the scratch directory
// (and takes `extra` arguments after it).
CommandResult make_checkpoints(const std::string& name, const char* script,
                               const std::string& extra = "") {
  const std::string path = test_tmp(name);
  std::ofstream(path) << script;
  return run_command(kDebianPython + " " + path + " " + test_tmp("") + extra);
}

const std::vector<std::string> kNames = {"0.bias",         "0.weight",      "1.bias",
                                         "1.running_mean", "1.running_var", "1.weight"};

class ConvertTorch : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!debian_python_imports("torch"))
      GTEST_SKIP() << kDebianPython
                   << " cannot import torch: install Debian's python3-torch to run "
                   << "the converter tests";
    static const CommandResult made = make_checkpoints("make_checkpoints.py", kMakeCheckpoints);
    ASSERT_EQ(made.status, 0) << made.output;
  }

  CommandResult convert(const std::string& args) {
    return run_command(kDebianPython + " " + g_script + " " + args);
  }

  // For inputs that a converter without bounds reads forever or waits on: a failure, not a
  // runaway test.
  CommandResult convert_bounded(const std::string& args) {
    return run_command("ulimit -v 4194304; timeout 60 " + kDebianPython + " " + g_script + " " +
                       args);
  }

  std::string expected(const std::string& name) {
    return read_bytes(test_tmp("expected/" + name + ".bin"));
  }
};

// The converter's copies of the readers' constants (it is Python, apart from the C++) are theirs:
// a bound or option that drifted would write files infer then refuses, or refuse good ones.
TEST_F(ConvertTorch, ItsCopiesOfTheReadersConstantsMatchThem) {
  const std::string script = test_tmp("constants.py");
  std::ofstream(script) << R"(import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("convert_torch", sys.argv[1])
c = importlib.util.module_from_spec(spec)
spec.loader.exec_module(c)
print(json.dumps({"options": sorted(c.MODEL_OPTIONS), "norms": c.NORMS,
                  "limits": [c.MAX_CLIP_FRAMES, c.MAX_FRAME_SIDE, c.MAX_CLIPS_PER_VIDEO,
                             c.MAX_DIMS, c.MAX_CLASSES]}))
)";
  const CommandResult r = run_command(kDebianPython + " " + script + " " + g_script);
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json got = nlohmann::json::parse(r.output);
  std::vector<std::string> options;
  for (const std::string& name : model_option_names())
    if (name != "classes") options.push_back(name);
  std::sort(options.begin(), options.end());
  EXPECT_EQ(got["options"], nlohmann::json(options));
  const auto norm = [](const Normalisation& n) {
    return nlohmann::json{{"mean", n.mean}, {"std", n.std}};
  };
  // Compared as float32, as the readers hold them.
  for (const auto& [name, want] :
       {std::pair{"imagenet", imagenet_normalisation()}, {"paper", paper_normalisation()}}) {
    SCOPED_TRACE(name);
    for (const char* field : {"mean", "std"})
      for (int c = 0; c < 3; ++c)
        EXPECT_EQ(got["norms"][name][field][c].get<float>(), norm(want)[field][c].get<float>());
  }
  EXPECT_EQ(got["limits"], nlohmann::json({kMaxClipFrames, kMaxFrameSide, kMaxClipsPerVideo,
                                           int64_t{kMaxDims}, kMaxClasses}));
}

TEST_F(ConvertTorch, EveryCheckpointKindConvertsExactlyInBothEncodings) {
  // Each with the flags it needs: a whole pickled module loads only with --unsafe-pickle, the
  // rest weights only.
  const std::pair<std::string, std::string> kinds[] = {
      {"state_dict.pt", ""},
      {"wrapped.pt", ""},
      {"model.pt", ""},
      {"legacy.pt", ""},
      {"whole.pt", " --unsafe-pickle"},
  };
  for (const auto& [checkpoint, flags] : kinds)
    for (const char* encoding : {"", "--plain"}) {
      SCOPED_TRACE(checkpoint + flags + " " + encoding);
      const std::string out = test_tmp("converted.json");
      const CommandResult r = convert(test_tmp(checkpoint) + " " + out + " " + encoding + flags);
      ASSERT_EQ(r.status, 0) << r.output;
      EXPECT_NE(r.output.find("6 tensors"), std::string::npos) << r.output;
      const std::map<std::string, Tensor> w = load_weights(out);
      std::vector<std::string> names;
      for (const auto& [name, t] : w) names.push_back(name);
      // No "module." prefix, no num_batches_tracked.
      EXPECT_EQ(names, kNames);
      for (const auto& [name, t] : w) EXPECT_EQ(bytes_of(t), expected(name)) << name;
      EXPECT_EQ(w.at("0.weight").shape(), (Shape{3, 2, 3, 3}));
      // Every tensor carries a crc32 (load_weights checked it against the data), the one
      // save_weights writes for the same values.
      const nlohmann::json doc = read_json_file(out);
      const std::string resaved = test_tmp("resaved.json");
      save_weights(resaved, w);
      const nlohmann::json ours = read_json_file(resaved);
      for (const std::string& name : kNames) {
        ASSERT_TRUE(doc.at("tensors").at(name).contains("crc32")) << name;
        EXPECT_EQ(doc["tensors"][name]["crc32"], ours["tensors"][name]["crc32"]) << name;
      }
    }
}

TEST_F(ConvertTorch, InflationRepeatsConvWeightsOverTime) {
  const std::string out = test_tmp("inflated.json");
  for (const bool divide : {false, true}) {
    SCOPED_TRACE(divide ? "divided by T" : "repeated");
    const CommandResult r =
        convert(test_tmp("state_dict.pt") + " " + out + " --inflate-3d --time '0.w*=3'" +
                (divide ? " --divide-by-time" : ""));
    ASSERT_EQ(r.status, 0) << r.output;
    const std::map<std::string, Tensor> w = load_weights(out);
    ASSERT_EQ(w.at("0.weight").shape(), (Shape{3, 2, 3, 3, 3}));
    EXPECT_EQ(w.at("0.bias").shape(), Shape{3});
    const std::string bytes = expected("0.weight");
    std::vector<float> w2d(bytes.size() / 4);
    std::memcpy(w2d.data(), bytes.data(), bytes.size());
    const std::vector<float> w3d = w.at("0.weight").to_vector();
    // (O, I, T, kH, kW): every time slice is the 2D kernel (O, I, kH, kW).
    for (int64_t oi = 0; oi < 6; ++oi)
      for (int64_t t = 0; t < 3; ++t)
        for (int64_t k = 0; k < 9; ++k)
          EXPECT_EQ(w3d[(oi * 3 + t) * 9 + k], divide ? w2d[oi * 9 + k] / 3 : w2d[oi * 9 + k]);
  }
  const CommandResult typo =
      convert(test_tmp("state_dict.pt") + " " + out + " --inflate-3d --time 'conv*=3'");
  EXPECT_EQ(typo.status, 2);
  EXPECT_NE(typo.output.find("--time pattern(s) conv* match no 4-D tensor"), std::string::npos)
      << typo.output;
}

TEST_F(ConvertTorch, UnreadableInputIsExit2AndKeepsTheOldOutput) {
  const std::string out = test_tmp("kept.json"), garbage = test_tmp("garbage.pt");
  std::ofstream(garbage) << "not a checkpoint";
  std::ofstream(out) << "old";
  CommandResult r = convert(garbage + " " + out);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("error: " + garbage + ": cannot read as a PyTorch checkpoint"),
            std::string::npos)
      << r.output;
  r = convert(test_tmp("absent.pt") + " " + out);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find(test_tmp("absent.pt") + ": no such readable file"), std::string::npos)
      << r.output;
  EXPECT_EQ(read_bytes(out), "old");
  r = convert(test_tmp("state_dict.pt") + " " + test_tmp("no/such/dir.json"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("cannot create a temporary file"), std::string::npos) << r.output;
}

TEST_F(ConvertTorch, MetadataFlagsWriteWhatTheReaderResolves) {
  const std::string names = test_tmp("names.txt"), out = test_tmp("meta.json");
  // Names are trimmed and blank lines skipped, as the trainer reads class lists.
  std::ofstream(names) << "right\n\n  down-right \nleft\n";
  const CommandResult r =
      convert(test_tmp("state_dict.pt") + " " + out + " --model resnet10_2d --classes 3" +
              " --class-names " + names + " --norm paper --frames 8 --option flow-iters=3");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("metadata for resnet10_2d"), std::string::npos) << r.output;
  nlohmann::json extra;
  const std::map<std::string, Tensor> w = load_weights(out, &extra);
  EXPECT_EQ(w.size(), kNames.size());
  // Only what was given is written ...
  EXPECT_EQ(extra["meta"]["model"]["options"],
            nlohmann::json({{"classes", "3"}, {"flow-iters", "3"}}));
  EXPECT_EQ(extra["meta"]["input"].size(), 2u) << extra["meta"]["input"];
  // ... and a reader takes the model's defaults for the rest.
  const WeightsMeta meta = weights_meta_from_extra(extra, out);
  ASSERT_TRUE(meta.model);
  EXPECT_EQ(meta.model->name, "resnet10_2d");
  EXPECT_EQ(meta.model->options, (OptionValues{{"classes", "3"},
                                               {"width", "64"},
                                               {"stem", "imagenet"},
                                               {"flow", "after3"},
                                               {"flow-iters", "3"},
                                               {"flow-stages", "1"},
                                               {"fcf", "false"},
                                               {"reduced-channels", "32"},
                                               {"dropout", "0"},
                                               {"flow-learn", "tlt,div"},
                                               {"fusion", "add"},
                                               {"input", "rgb"}}));
  EXPECT_EQ(meta.class_names, (std::vector<std::string>{"right", "down-right", "left"}));
  EXPECT_EQ(meta.input.frames, 8);
  EXPECT_FALSE(meta.input.stride || meta.input.resize || meta.input.size || meta.input.clips);
  ASSERT_TRUE(meta.input.norm);
  EXPECT_EQ(meta.input.norm->mean, (std::array<float, 3>{0.5f, 0.5f, 0.5f}));
  EXPECT_EQ(meta.input.norm->std, (std::array<float, 3>{-0.5f, -0.5f, -0.5f}));
  // The largest values the converter takes are ones a reader takes.
  const std::string most = test_tmp("most.json");
  const CommandResult r2 = convert(
      test_tmp("state_dict.pt") + " " + most + " --model resnet10_2d --classes " +
      std::to_string(kMaxClasses) + " --frames " + std::to_string(kMaxClipFrames) + " --stride " +
      std::to_string(kMaxClipFrames) + " --decode-size " + std::to_string(kMaxFrameSide) +
      " --resize " + std::to_string(kMaxFrameSide) + " --size " + std::to_string(kMaxFrameSide) +
      " --clips " + std::to_string(kMaxClipsPerVideo));
  ASSERT_EQ(r2.status, 0) << r2.output;
  load_weights(most, &extra);
  const WeightsMeta largest = weights_meta_from_extra(extra, most);
  EXPECT_EQ(largest.input.frames, kMaxClipFrames);
  EXPECT_EQ(largest.input.size, kMaxFrameSide);
  EXPECT_EQ(largest.input.clips, kMaxClipsPerVideo);
}

TEST_F(ConvertTorch, MetadataTakesThePapersKineticsClassMap) {
  // {"\"NAME\"": INDEX}, in no particular order; the quotes are optional.
  const std::string classes = test_tmp("kinetics_cls.json"), out = test_tmp("kinetics.json");
  std::ofstream(classes) << R"({"\"air drumming\"": 1, "\"abseiling\"": 0, "archery": 2})";
  const CommandResult r =
      convert(test_tmp("state_dict.pt") + " " + out +
              " --model kinetics_repflow_r50 --class-names " + classes +
              " --norm imagenet --frames 32 --stride 2 --decode-size 320 --resize 256 --size 224 "
              "--clips 10");
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json extra;
  load_weights(out, &extra);
  const WeightsMeta meta = weights_meta_from_extra(extra, out);
  ASSERT_TRUE(meta.model);
  EXPECT_EQ(meta.model->name, "kinetics_repflow_r50");
  // The class count is the number of names.
  EXPECT_EQ(
      meta.model->options,
      (OptionValues{
          {"classes", "3"}, {"flow-iters", "10"}, {"reduced-channels", "32"}, {"dropout", "0.5"}}));
  EXPECT_EQ(meta.class_names, (std::vector<std::string>{"abseiling", "air drumming", "archery"}));
  EXPECT_EQ(meta.input.frames, 32);
  EXPECT_EQ(meta.input.stride, 2);
  EXPECT_EQ(meta.input.decode_size, 320);
  EXPECT_EQ(meta.input.resize, 256);
  EXPECT_EQ(meta.input.size, 224);
  EXPECT_EQ(meta.input.clips, 10);
  ASSERT_TRUE(meta.input.norm);
  EXPECT_EQ(meta.input.norm->mean, (std::array<float, 3>{0.485f, 0.456f, 0.406f}));
  EXPECT_EQ(meta.input.norm->std, (std::array<float, 3>{0.229f, 0.224f, 0.225f}));

  // Whether an option applies to the model is the registry's to say: the converter writes it,
  // a reader refuses it.
  ASSERT_EQ(convert(test_tmp("state_dict.pt") + " " + out +
                    " --model kinetics_repflow_r50 --option width=8")
                .status,
            0);
  load_weights(out, &extra);
  EXPECT_ERROR_CONTAINS(weights_meta_from_extra(extra, out), "option width does not apply");
}

TEST_F(ConvertTorch, BadMetadataFlagsAreExit2NamingTheFlag) {
  const std::string names = test_tmp("two_names.txt"), out = test_tmp("kept_meta.json");
  std::ofstream(names) << "a\nb\n";
  const std::string twice = test_tmp("twice.json"), deep = test_tmp("deep.json");
  std::ofstream(twice) << R"({"a": 0, "b": 1, "a": 0})";
  std::ofstream(deep) << std::string(100000, '[');
  const std::string model = " --model resnet10_2d";
  const std::string frames = std::to_string(kMaxClipFrames), side = std::to_string(kMaxFrameSide),
                    classes = std::to_string(kMaxClasses);
  const std::pair<std::string, std::string> cases[] = {
      {model + " --classes 3 --class-names " + names,
       "error: --classes 3 disagrees with --class-names " + names + ", which holds 2 names"},
      {model + " --option colour=red", "error: --option 'colour=red': unknown option 'colour'"},
      {model + " --option flow-iters", "error: --option 'flow-iters': expected KEY=VALUE"},
      {model + " --option classes=3", "error: --option classes: give the class count with"},
      {" --option flow-iters=3", "error: --option: metadata flags need --model"},
      {" --classes 3 --frames 8", "error: --classes, --frames: metadata flags need --model"},
      {model + " --frames eight", "error: argument --frames: 'eight' is not an integer"},
      // The readers' bounds: beyond them a file would be written, then refused by infer.
      {model + " --frames 0", "error: argument --frames: 0 is outside 1.." + frames},
      {model + " --stride " + std::to_string(kMaxClipFrames + 1),
       "error: argument --stride: " + std::to_string(kMaxClipFrames + 1) + " is outside 1.." +
           frames},
      {model + " --classes 0", "error: argument --classes: 0 is outside 1.." + classes},
      {model + " --classes " + std::to_string(kMaxClasses + 1),
       "error: argument --classes: " + std::to_string(kMaxClasses + 1) + " is outside 1.." +
           classes},
      {model + " --resize -1", "error: argument --resize: -1 is outside 0.." + side},
      {model + " --size " + std::to_string(kMaxFrameSide + 1),
       "error: argument --size: " + std::to_string(kMaxFrameSide + 1) + " is outside 0.." + side},
      {model + " --decode-size " + std::to_string(kMaxFrameSide + 1),
       "error: argument --decode-size: " + std::to_string(kMaxFrameSide + 1) + " is outside 0.." +
           side},
      {model + " --clips " + std::to_string(kMaxClipsPerVideo + 1),
       "error: argument --clips: " + std::to_string(kMaxClipsPerVideo + 1) + " is outside 1.." +
           std::to_string(kMaxClipsPerVideo)},
      {model + " --norm kinetics", "error: argument --norm: invalid choice: 'kinetics'"},
      {model + " --class-names " + test_tmp("absent.txt"),
       "error: --class-names " + test_tmp("absent.txt") + ": cannot read"},
      {model + " --class-names " + twice,
       "error: --class-names " + twice + ": class 'a' given twice"},
      {model + " --class-names " + deep,
       "error: --class-names " + deep + ": invalid JSON: nested too deeply"},
  };
  std::ofstream(out) << "old";
  for (const auto& [args, message] : cases) {
    SCOPED_TRACE(args);
    const CommandResult r = convert(test_tmp("state_dict.pt") + " " + out + args);
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has_line(r.output, message)) << r.output;
  }
  EXPECT_EQ(read_bytes(out), "old");
}

TEST_F(ConvertTorch, UsageErrorsPrintTheUsageThenALineStartingWithError) {
  const std::string checkpoint = test_tmp("state_dict.pt"), out = test_tmp("kept_usage.json");
  const std::pair<std::string, std::string> cases[] = {
      {checkpoint + " " + out + " --bogus", "error: unrecognized arguments: --bogus"},
      {checkpoint, "error: the following arguments are required: out"},
      {checkpoint + " " + out + " --time-kernel 3",
       "error: --time, --time-kernel and --divide-by-time need --inflate-3d"},
  };
  std::ofstream(out) << "old";
  for (const auto& [args, message] : cases) {
    SCOPED_TRACE(args);
    const CommandResult r = convert(args);
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has_line(r.output, "usage: ")) << r.output;
    EXPECT_TRUE(has_line(r.output, message)) << r.output;
    // Not argparse's "convert_torch.py: error: ...", which no "error:" search finds at a line's
    // start.
    EXPECT_EQ(r.output.find("convert_torch.py: error"), std::string::npos) << r.output;
  }
  EXPECT_EQ(read_bytes(out), "old");
}

TEST_F(ConvertTorch, TimeSizesAreBoundedNamingTheFlag) {
  const std::string checkpoint = test_tmp("state_dict.pt"), out = test_tmp("kept_time.json");
  const std::pair<std::string, std::string> cases[] = {
      // Without a bound these asked torch for terabytes and died in a traceback.
      {" --time-kernel 1000000000000",
       "error: argument --time-kernel: 1000000000000 is outside 1..256"},
      {" --time-kernel 257", "error: argument --time-kernel: 257 is outside 1..256"},
      {" --time-kernel 0", "error: argument --time-kernel: 0 is outside 1..256"},
      {" --time '0.w*=99999999999'",
       "error: --time '0.w*=99999999999': expected PATTERN=T with T an integer in 1..256"},
      {" --time '0.w*=257'", "error: --time '0.w*=257': expected PATTERN=T with T an integer"},
      {" --time '0.w*=0'", "error: --time '0.w*=0': expected PATTERN=T with T an integer"},
  };
  std::ofstream(out) << "old";
  for (const auto& [args, message] : cases) {
    SCOPED_TRACE(args);
    const CommandResult r = convert(checkpoint + " " + out + " --inflate-3d" + args);
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has_line(r.output, message)) << r.output;
  }
  EXPECT_EQ(read_bytes(out), "old");
  // The bound itself is taken.
  const CommandResult r = convert(checkpoint + " " + out + " --inflate-3d --time-kernel 256");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(load_weights(out).at("0.weight").shape(), (Shape{3, 2, 256, 3, 3}));
}

// Checkpoints torch saves and loads whose entries no weight file can hold.
const char kMakeUnconvertible[] = R"(
import os, sys, torch
out = sys.argv[1]
torch.save({"ok": torch.zeros([1] * 8), "deep": torch.zeros([1] * 9)},
           os.path.join(out, "nine_dims.pt"))
torch.save({0: torch.zeros(2)}, os.path.join(out, "int_key.pt"))
torch.save({"s": torch.zeros(2, 2).to_sparse()}, os.path.join(out, "sparse.pt"))
torch.save({"m": torch.zeros(2, device="meta")}, os.path.join(out, "meta.pt"))
# One stored value viewed as 10^18 (4 EB as float32): refused from its shape.
torch.save({"v": torch.ones(1).expand(10**9, 10**9)}, os.path.join(out, "huge_view.pt"))
torch.save({"n": torch.tensor([1.0, float("nan")])}, os.path.join(out, "nan.pt"))
# Finite in float64, infinite once narrowed to float32.
torch.save({"d": torch.tensor([1.0, -1e39], dtype=torch.float64)}, os.path.join(out, "wide.pt"))
)";

TEST_F(ConvertTorch, UnconvertibleTensorsAreExit2NamingTheTensor) {
  const CommandResult made = make_checkpoints("make_unconvertible.py", kMakeUnconvertible);
  ASSERT_EQ(made.status, 0) << made.output;
  const std::string out = test_tmp("kept_tensors.json");
  const std::pair<std::string, std::string> cases[] = {
      {"nine_dims.pt",
       "tensor 'deep' has shape [1, 1, 1, 1, 1, 1, 1, 1, 1], more than 8 dimensions"},
      {"int_key.pt", "key 0 (int) is not a string"},
      {"sparse.pt", "tensor 's' has layout torch.sparse_coo; only dense (strided) tensors"},
      {"meta.pt", "tensor 'm' is on the meta device, which holds no values"},
      {"huge_view.pt",
       "tensor 'v' has shape [1000000000, 1000000000]: 1000000000000000000 values "
       "(4000000000000000000 bytes as float32), more than the 134217728 values (536870912 "
       "bytes) a converted file may hold"},
      {"nan.pt", "tensor 'n': data[1] is nan (only finite values are allowed)"},
      {"wide.pt",
       "tensor 'd': data[1] is -1e+39, beyond float32's range (magnitude at most "
       "3.4028234663852886e+38)"},
  };
  std::ofstream(out) << "old";
  for (const auto& [checkpoint, message] : cases) {
    SCOPED_TRACE(checkpoint);
    const CommandResult r = convert(test_tmp(checkpoint) + " " + out);
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has_line(r.output, "error: " + test_tmp(checkpoint) + ": " + message)) << r.output;
    EXPECT_EQ(r.output.find("Traceback"), std::string::npos) << r.output;
  }
  EXPECT_EQ(read_bytes(out), "old");
  // Eight dimensions are the most a reader takes, and convert.
  const CommandResult r = convert(test_tmp("nine_dims.pt") + " " + out + " --exclude deep");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(load_weights(out).at("ok").shape(), (Shape{1, 1, 1, 1, 1, 1, 1, 1}));
  // A file of no tensors would load into nothing.
  const CommandResult none = convert(test_tmp("nine_dims.pt") + " " + out + " --exclude '*'");
  EXPECT_EQ(none.status, 2) << none.output;
  EXPECT_TRUE(has_line(none.output, "error: " + test_tmp("nine_dims.pt") +
                                        ": no tensor to convert (--exclude dropped all 2)"))
      << none.output;
  EXPECT_EQ(load_weights(out).count("ok"), 1u);
}

// Tiny checkpoints whose views claim more values than a converted file may hold (2^27, 512 MiB
// of float32; 2^25 with --plain). Materialised, the first took 5 GB and minutes and wrote a
// 1.4 GB file; the second needs tens of GB.
const char kMakeHuge[] = R"(
import os, sys, torch
out = sys.argv[1]
one = torch.ones(1)
torch.save({"a": one.expand(2**28)}, os.path.join(out, "view_2_28.pt"))
torch.save({"small": torch.zeros(2), "a": one.expand(2**31)}, os.path.join(out, "view_2_31.pt"))
# Each within the bound, together one value over it.
torch.save({"a": one.expand(2**26), "b": one.expand(2**26), "c": torch.zeros(1)},
           os.path.join(out, "view_total.pt"))
# 2^20 values, 2^27 + 2^20 once inflated with T = 129.
torch.save({"w": one.expand(1024, 1024, 1, 1)}, os.path.join(out, "view_conv.pt"))
torch.save({"p": one.expand(2**25 + 1)}, os.path.join(out, "view_plain.pt"))
# Empty, but a reader refuses sizes (a 0 counted as 1) whose product is above 2^60; 2^60 it takes.
torch.save({"e": torch.empty(0, 2**40, 2**40)}, os.path.join(out, "empty_over.pt"))
torch.save({"e": torch.empty(0, 2**30, 2**30)}, os.path.join(out, "empty_at.pt"))
)";

TEST_F(ConvertTorch, TensorsAreBoundedByTheirShapesBeforeAnyIsMaterialised) {
  const CommandResult made = make_checkpoints("make_huge.py", kMakeHuge);
  ASSERT_EQ(made.status, 0) << made.output;
  const std::string out = test_tmp("kept_huge.json");
  const std::pair<std::string, std::string> cases[] = {
      {"view_2_28.pt",
       ": tensor 'a' has shape [268435456]: 268435456 values (1073741824 bytes as float32), more "
       "than the 134217728 values (536870912 bytes) a converted file may hold"},
      {"view_2_31.pt",
       ": tensor 'a' has shape [2147483648]: 2147483648 values (8589934592 bytes as float32), "
       "more than the 134217728 values (536870912 bytes) a converted file may hold"},
      {"view_total.pt",
       ": the 3 tensors hold 134217729 values (536870916 bytes as float32) in all, more than "
       "the 134217728 values (536870912 bytes) a converted file may hold; --exclude can drop "
       "tensors"},
      {"view_conv.pt --inflate-3d --time-kernel 129",
       ": tensor 'w' has shape [1024, 1024, 1, 1], inflated to [1024, 1024, 129, 1, 1]: "
       "135266304 values"},
      {"view_plain.pt --plain",
       ": tensor 'p' has shape [33554433]: 33554433 values (134217732 bytes as float32), more "
       "than the 33554432 values (134217728 bytes) a --plain file may hold (without --plain, "
       "134217728)"},
      {"empty_over.pt",
       ": tensor 'e' has shape [0, 1099511627776, 1099511627776], whose sizes (a 0 counted as "
       "1) multiply to 1208925819614629174706176, more than the 1152921504606846976 a reader "
       "takes"},
  };
  std::ofstream(out) << "old";
  for (const auto& [args, message] : cases) {
    SCOPED_TRACE(args);
    const std::string checkpoint = test_tmp(args.substr(0, args.find(' ')));
    // Refused from the shapes: within a 4 GiB address space and a minute, not after minutes.
    const CommandResult r = convert_bounded(test_tmp(args) + " " + out);
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has_line(r.output, "error: " + checkpoint + message)) << r.output;
    EXPECT_EQ(r.output.find("Traceback"), std::string::npos) << r.output;
  }
  EXPECT_EQ(read_bytes(out), "old");
  // What is left after --exclude is what counts.
  CommandResult r = convert_bounded(test_tmp("view_2_31.pt") + " " + out + " --exclude a --plain");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(load_weights(out).at("small").shape(), Shape{2});
  r = convert_bounded(test_tmp("empty_at.pt") + " " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(load_weights(out).at("e").shape(), (Shape{0, 1073741824, 1073741824}));
}

// A pickle naming a function beyond tensors and plain containers: unpickled whole, it creates
// the directory given as the script's second argument.
const char kMakeHostile[] = R"(
import os, sys, torch
out, marker = sys.argv[1], sys.argv[2]
class Hostile:
    def __reduce__(self):
        return (os.mkdir, (marker,))
torch.save({"w": torch.ones(2), "x": Hostile()}, os.path.join(out, "hostile.pt"))
torch.save({"w": torch.ones(2), "x": Hostile()}, os.path.join(out, "hostile_legacy.pt"),
           _use_new_zipfile_serialization=False)
)";

// Legacy-format (pre-zip) checkpoints whose pickle declares a storage far larger than the file
// holds: 2^31 - 1 floats (8 GiB) and 2^40 (4 TiB). The loader allocates the declared size
// before it reads the bytes.
const char kMakeLegacyHuge[] = R"(
import os, sys, torch
out = sys.argv[1]
path = os.path.join(out, "legacy_small.pt")
torch.save({"a": torch.zeros(4)}, path, _use_new_zipfile_serialization=False)
data = open(path, "rb").read()
# The storage's persistent id ends ('cpu', 4): BINUNICODE 'cpu', BINPUT n, BININT1 4.
at = data.index(b"X\x03\x00\x00\x00cpu") + 8 + 2
assert data[at:at + 2] == b"K\x04", data[at:at + 2]
for n, name in [(2**31 - 1, "legacy_2_31.pt"), (2**40, "legacy_2_40.pt")]:
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little")
    long1 = b"\x8a" + bytes([len(raw)]) + raw
    open(os.path.join(out, name), "wb").write(data[:at] + long1 + data[at + 2:])
)";

TEST_F(ConvertTorch, LegacyStoragesLargerThanTheFileAreRefused) {
  const CommandResult made = make_checkpoints("make_legacy_huge.py", kMakeLegacyHuge);
  ASSERT_EQ(made.status, 0) << made.output;
  const std::string out = test_tmp("kept_legacy.json");
  std::ofstream(out) << "old";
  for (const char* name : {"legacy_2_31.pt", "legacy_2_40.pt"}) {
    SCOPED_TRACE(name);
    const std::string checkpoint = test_tmp(name);
    // Within a 4 GiB address space and a minute.
    const CommandResult r = convert_bounded(checkpoint + " " + out);
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(
        has_line(r.output, "error: " + checkpoint + ": cannot read as a PyTorch checkpoint"))
        << r.output;
    EXPECT_EQ(r.output.find("Traceback"), std::string::npos) << r.output;
  }
  EXPECT_EQ(read_bytes(out), "old");
}

TEST_F(ConvertTorch, OnlyWeightsLoadWithoutUnsafePickle) {
  const std::string marker = test_tmp("hostile_ran");
  std::filesystem::remove_all(marker);
  const CommandResult made = make_checkpoints("make_hostile.py", kMakeHostile, " " + marker);
  ASSERT_EQ(made.status, 0) << made.output;
  ASSERT_FALSE(std::filesystem::exists(marker));
  const std::string out = test_tmp("kept_pickle.json");
  const std::string advice =
      ", e.g. a whole pickled module, whose unpickling runs code the file names; pass "
      "--unsafe-pickle to load it, only for a file you trust";
  const std::pair<std::string, std::string> cases[] = {
      {"whole.pt",
       ": holds more than tensors and plain containers (Unsupported class "
       "torch.nn.parallel.data_parallel.DataParallel)" +
           advice},
      {"hostile.pt",
       ": holds more than tensors and plain containers (Unsupported class posix.mkdir)" + advice},
      {"hostile_legacy.pt",
       ": holds more than tensors and plain containers (Unsupported class posix.mkdir)" + advice},
  };
  std::ofstream(out) << "old";
  for (const auto& [checkpoint, message] : cases) {
    SCOPED_TRACE(checkpoint);
    const CommandResult r = convert(test_tmp(checkpoint) + " " + out);
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has_line(r.output, "error: " + test_tmp(checkpoint) + message)) << r.output;
    // Refused before anything it names ran.
    EXPECT_FALSE(std::filesystem::exists(marker));
  }
  EXPECT_EQ(read_bytes(out), "old");
  // With the flag a whole module converts ...
  CommandResult r = convert(test_tmp("whole.pt") + " " + out + " --unsafe-pickle");
  ASSERT_EQ(r.status, 0) << r.output;
  std::vector<std::string> names;
  for (const auto& [name, t] : load_weights(out)) names.push_back(name);
  EXPECT_EQ(names, kNames);
  // ... and the file's code runs, which is why it takes the flag.
  r = convert(test_tmp("hostile.pt") + " " + out + " --unsafe-pickle");
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has_line(
      r.output, "error: " + test_tmp("hostile.pt") + ": entry 'x' is a NoneType, not a tensor"))
      << r.output;
  EXPECT_TRUE(std::filesystem::exists(marker));
  std::filesystem::remove_all(marker);
  // --help says so.
  r = convert("--help");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("--unsafe-pickle"), std::string::npos) << r.output;
}

TEST_F(ConvertTorch, InputsMustBeRegularFilesAndClassNamesBounded) {
  const std::string dir = test_tmp("a_directory"), fifo = test_tmp("a_fifo");
  std::filesystem::create_directories(dir);
  std::filesystem::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << fifo;
  const std::string out = test_tmp("kept_inputs.json"), checkpoint = test_tmp("state_dict.pt");
  std::ofstream(out) << "old";
  // /dev/zero read forever, and a FIFO without a writer blocked the open.
  for (const std::string& path : {std::string("/dev/zero"), dir, fifo}) {
    SCOPED_TRACE(path);
    CommandResult r = convert_bounded(path + " " + out);
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has_line(r.output, "error: " + path + ": not a regular file")) << r.output;
    r = convert_bounded(checkpoint + " " + out + " --model resnet10_2d --class-names " + path);
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has_line(r.output, "error: --class-names " + path + ": not a regular file"))
        << r.output;
  }
  // An output that is not a regular file is kept (as root, /dev/null became a regular file).
  for (const std::string& path : {dir, fifo}) {
    SCOPED_TRACE(path);
    const CommandResult r = convert_bounded(checkpoint + " " + path);
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has_line(r.output, "error: " + path + ": exists and is not a regular file"))
        << r.output;
  }
  EXPECT_TRUE(std::filesystem::is_fifo(fifo));
  // At most 16 MiB and, as the trainer's lists (kMaxClasses), 100000 names.
  const std::string big = test_tmp("big_names.txt"), many = test_tmp("many_names.txt"),
                    most = test_tmp("most_names.txt");
  std::ofstream(big) << std::string((16 << 20) + 1, 'x');
  {
    std::ofstream m(many), n(most);
    for (int i = 0; i < 100001; ++i) {
      m << "class" << i << "\n";
      if (i < 100000) n << "class" << i << "\n";
    }
  }
  const std::pair<std::string, std::string> cases[] = {
      {big, "error: --class-names " + big + ": more than 16777216 bytes"},
      {many, "error: --class-names " + many + ": more than 100000 classes"},
  };
  for (const auto& [names, message] : cases) {
    SCOPED_TRACE(names);
    const CommandResult r =
        convert(checkpoint + " " + out + " --model resnet10_2d --class-names " + names);
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(has_line(r.output, message)) << r.output;
  }
  EXPECT_EQ(read_bytes(out), "old");
  const CommandResult r =
      convert(checkpoint + " " + out + " --model resnet10_2d --class-names " + most);
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json extra;
  load_weights(out, &extra);
  EXPECT_EQ(extra["meta"]["class_names"].size(), 100000u);
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: convert_torch_test CONVERT_TORCH_PY\n");
    return 2;
  }
  repflow::g_script = argv[1];
  return RUN_ALL_TESTS();
}
