// //tools:infer end to end: frames and weights written here, the binary run as a user runs it,
// its logits compared with the same model run in this process, and its top-k lines with the
// softmax worked out here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/autograd.h"
#include "framework/generator.h"
#include "framework/image_io.h"
#include "framework/weights.h"
#include "models/registry.h"
#include "models/weights_io.h"
#include "ops/view/view.h"
#include "tests/test_util.h"
#include "training/data/video_frames.h"

namespace repflow {
namespace {

namespace fs = std::filesystem;

std::string g_infer;

constexpr int kClasses = 5;
// Small enough for two cores: few classes, a light flow block, 28 x 28 crops.
const std::string kModelFlags =
    " --model resnet18_2d --classes 5 --flow-iters 2 --reduced-channels 4 --threads 1";

ModelOptions model_options() {
  ModelOptions o;
  o.classes = kClasses;
  o.flow_iters = 2;
  o.reduced_channels = 4;
  return o;
}

// Frames of a noisy colour pattern, each frame a little different.
std::string write_video(const std::string& name, int frames) {
  const std::string dir = test_tmp(name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  Generator gen(11);
  for (int f = 0; f < frames; ++f) {
    const int w = 40, h = 36;
    const std::vector<float> noise = Tensor::uniform({h * w * 3}, 0, 60, gen).to_vector();
    Image im{w, h, 3, std::vector<uint8_t>(w * h * 3)};
    for (int i = 0; i < w * h * 3; ++i)
      im.pixels[i] = static_cast<uint8_t>((i * 37 / 3 + 9 * f) % 190 + noise[i]);
    write_png(dir + "/frame_" + std::to_string(f) + ".png", im);
  }
  return dir;
}

// Weights of a seeded model whose batch-norm statistics moved away from their initial values.
std::string write_weights() {
  static const std::string path = [] {
    const std::string p = test_tmp("resnet18_2d.json");
    default_generator().set_state(123, 0);
    auto model = make_model("resnet18_2d", model_options());
    NoGradGuard no_grad;
    Generator gen(5);
    model->forward(Tensor::uniform({2, 3, 4, 28, 28}, -2, 2, gen));
    save_weights(p, model->state_dict());
    return p;
  }();
  return path;
}

std::vector<std::vector<float>> expected_logits(const Tensor& clips) {
  auto model = make_model("resnet18_2d", model_options());
  load_weights_into(*model, write_weights());
  model->eval();
  NoGradGuard no_grad;
  const std::vector<float> v = model->forward(clips).to_vector();
  std::vector<std::vector<float>> rows;
  for (size_t i = 0; i < v.size(); i += kClasses)
    rows.emplace_back(v.begin() + i, v.begin() + i + kClasses);
  return rows;
}

std::vector<std::vector<float>> read_logits(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in).get<std::vector<std::vector<float>>>();
}

void expect_close(const std::vector<std::vector<float>>& got,
                  const std::vector<std::vector<float>>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t s = 0; s < want.size(); ++s) {
    ASSERT_EQ(got[s].size(), want[s].size());
    for (size_t c = 0; c < want[s].size(); ++c)
      EXPECT_NEAR(got[s][c], want[s][c], 1e-4 * std::max(1.0f, std::fabs(want[s][c])))
          << "sample " << s << " class " << c;
  }
}

// "  1. 0.412345  class 3  name" for the k most probable classes, by softmax computed here.
std::string top_lines(const std::vector<float>& logits, int k,
                      const std::vector<std::string>& names) {
  double total = 0;
  for (float z : logits) total += std::exp(static_cast<double>(z));
  std::vector<int> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  std::string out;
  for (int r = 0; r < k; ++r) {
    char line[200];
    std::snprintf(line, sizeof line, "  %2d. %.6f  class %d%s\n", r + 1,
                  std::exp(static_cast<double>(logits[order[r]])) / total, order[r],
                  names.empty() ? "" : ("  " + names[order[r]]).c_str());
    out += line;
  }
  return out;
}

std::string write_text(const std::string& name, const std::string& text) {
  const std::string path = test_tmp(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string npy_file(const std::string& name, const Tensor& t) {
  const std::vector<float> v = t.to_vector();
  std::string data(v.size() * 4, '\0');
  std::memcpy(data.data(), v.data(), data.size());
  std::string shape = "(";
  for (int64_t d : t.shape()) shape += std::to_string(d) + ", ";
  shape += ")";
  return write_text(name, npy_bytes("<f4", shape, data));
}

TEST(Infer, FramesGiveTheLogitsAndTopClassesOfTheModel) {
  const std::string video = write_video("video", 9), out = test_tmp("logits.json");
  const std::vector<std::string> names = {"walk", "run", "jump", "wave", "sit"};
  const std::string labels = write_text("labels.txt", "walk\nrun\njump\nwave\nsit\n");
  std::remove(out.c_str());
  const CommandResult r = run_command(
      g_infer + kModelFlags + " --weights " + write_weights() + " --video " + video +
      " --frames 4 --resize 32 --size 28 --top 3 --labels " + labels + " --logits-out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  // The clip this process cuts from the same frames, as the trainer's evaluation cuts one clip:
  // 4 consecutive frames starting in the middle of the 6 possible starts.
  const std::vector<std::string> frames = list_frames(video);
  FrameTransform t;
  t.resize = 32;
  t.crop = 28;
  const Tensor clip =
      ops::unsqueeze(read_frames({frames[3], frames[4], frames[5], frames[6]}, t), 0);
  const auto want = expected_logits(clip);
  expect_close(read_logits(out), want);
  EXPECT_NE(r.output.find("video: top 3\n" + top_lines(read_logits(out)[0], 3, names)),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("1 clip(s) of 4 frames, stride 1, of 9 frames"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("time: read "), std::string::npos) << r.output;
}

TEST(Infer, AShortVideoLoopsItsFrames) {
  const std::string video = write_video("short", 3), out = test_tmp("short.json");
  const CommandResult r =
      run_command(g_infer + kModelFlags + " --weights " + write_weights() + " --video " + video +
                  " --frames 5 --resize 0 --size 28 --logits-out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("of 5 frames, stride 1, of 3 frames (looped)"), std::string::npos)
      << r.output;
  const std::vector<std::string> f = list_frames(video);
  FrameTransform t;
  t.crop = 28;
  const Tensor clip = ops::unsqueeze(read_frames({f[0], f[1], f[2], f[0], f[1]}, t), 0);
  expect_close(read_logits(out), expected_logits(clip));
  // Without labels the lines name class indices only, and --top stops at the class count.
  EXPECT_NE(r.output.find(top_lines(expected_logits(clip)[0], kClasses, {})), std::string::npos)
      << r.output;
}

TEST(Infer, NpyClipsAreFedAsIs) {
  Generator gen(9);
  const Tensor clips = Tensor::uniform({2, 3, 4, 24, 20}, -1.5f, 1.5f, gen);
  const std::string npy = npy_file("clips.npy", clips), out = test_tmp("npy_logits.json");
  const CommandResult r = run_command(g_infer + kModelFlags + " --weights " + write_weights() +
                                      " --input-npy " + npy + " --top 2 --logits-out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto want = expected_logits(clips);
  expect_close(read_logits(out), want);
  EXPECT_NE(r.output.find("sample 1: top 2\n" + top_lines(want[1], 2, {})), std::string::npos)
      << r.output;
}

TEST(Infer, BadInputIsExitTwoNamingTheThing) {
  const std::string video = write_video("bad_video", 4), weights = write_weights();
  const std::string base = g_infer + kModelFlags + " --weights " + weights;
  std::string good_npy;
  {
    Generator gen(2);
    good_npy = npy_file("good.npy", Tensor::uniform({1, 3, 4, 16, 16}, 0, 1, gen));
  }
  std::ifstream in(good_npy, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string missing_dir = test_tmp("no_such_dir"), labels_dir = fresh_dir("labels_dir");
  const std::string labels = write_text("four_labels.txt", "a\nb\nc\nd\n");
  const std::string cut = write_text("cut.npy", bytes.substr(0, bytes.size() - 100));
  const std::string magic = write_text("magic.npy", "GIF89a" + bytes.substr(6));
  const std::string f8 =
      write_text("f8.npy", npy_bytes("<f8", "(1, 3, 1, 1, 1)", std::string(24, 0)));
  const std::string rank4 =
      write_text("rank4.npy", npy_bytes("<f4", "(3, 1, 1, 1)", std::string(12, 0)));
  struct Case {
    std::string args, fragment;
  };
  const Case cases[] = {
      {" --video " + missing_dir, missing_dir},
      {" --video " + video + " --labels " + labels, labels + ": has 4 labels"},
      // A directory read as no labels, a device as endless ones.
      {" --video " + video + " --labels " + labels_dir, labels_dir + ": not a regular file"},
      {" --video " + video + " --labels /dev/zero", "/dev/zero: not a regular file"},
      {" --input-npy " + cut, cut},
      {" --input-npy " + magic, magic + ": not a .npy file"},
      {" --input-npy " + f8, f8 + ": .npy dtype '<f8'"},
      {" --input-npy " + rank4, rank4 + ": shape [3,1,1,1] is not (N, 3, T, H, W)"},
      {" --video " + video + " --input-npy " + good_npy, "exactly one of --video and --input-npy"},
      {" --input-npy " + good_npy + " --frames -1",
       "infer: flag --frames makes clips of a --video; --input-npy clips are fed as they are"},
      {" --input-npy " + good_npy + " --norm=bogus", "infer: flag --norm makes clips of a --video"},
      {"", "exactly one of --video and --input-npy"},
      {" --video " + video + " --resize 0 --size 64", "crop does not fit"},
      {" --video " + video + " --frames 0", "--frames"},
      {" --video " + video + " --norm zscore", "--norm"},
      {" --video " + video + " --flow sideways", "sideways"},
      // A std this small made the clip infinite, and the logits came out finite regardless.
      {" --video " + video + " --norm 0,0,0/1e-45,1e-45,1e-45",
       "flag --norm '0,0,0/1e-45,1e-45,1e-45': channel 0 (mean 0, std 1.4013e-45) would "
       "normalise pixels in [0, 1] beyond +-1e+06"},
      // Each flag within its bounds, together far more than the machine holds.
      {" --video " + video + " --clips 1000 --frames 5000 --size 64",
       "infer: --clips 1000 clips of [3,5000,64,64] floats are 234375 MB, above 4096 MB"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args);
    const CommandResult r = run_command(base + c.args);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(c.fragment), std::string::npos) << r.output;
  }
  // Weights of another class count name the file and the tensor.
  const CommandResult r = run_command(g_infer +
                                      " --model resnet18_2d --classes 7 --flow-iters 2 "
                                      "--reduced-channels 4 --weights " +
                                      weights + " --input-npy " + good_npy);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find(weights), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("fc.weight"), std::string::npos) << r.output;
}

// Class names recorded for another class count would leave every score unnamed, or misnamed.
TEST(Infer, ClassNamesOfAnotherCountInTheWeightFileAreExitTwoNamingIt) {
  const std::map<std::string, Tensor> tensors = load_weights(write_weights());
  const std::string path = test_tmp("three_names.json");
  save_weights(path, {tensors.begin(), tensors.end()},
               nlohmann::json{{"meta", {{"class_names", {"walk", "run", "jump"}}}}});
  Generator gen(2);
  const std::string npy = npy_file("names.npy", Tensor::uniform({1, 3, 4, 16, 16}, 0, 1, gen));
  const CommandResult r =
      run_command(g_infer + kModelFlags + " --weights " + path + " --input-npy " + npy);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find(path + ": meta.class_names has 3 names but the model has 5 classes"),
            std::string::npos)
      << r.output;
  // --labels names them instead.
  const std::string labels = write_text("five_labels.txt", "a\nb\nc\nd\ne\n");
  const CommandResult named = run_command(g_infer + kModelFlags + " --weights " + path +
                                          " --input-npy " + npy + " --labels " + labels);
  EXPECT_EQ(named.status, 0) << named.output;
}

// Weights that overflow on an input give logits that are not finite: refused, naming the file,
// and no logits file is written.
TEST(Infer, OutputThatIsNotFiniteIsExitTwoNamingTheWeights) {
  const std::string huge = test_tmp("huge_fc.json"), out = test_tmp("huge_logits.json");
  {
    default_generator().set_state(123, 0);
    auto model = make_model("resnet18_2d", model_options());
    NamedTensors state = model->state_dict();
    for (auto& [name, t] : state)
      if (name == "fc.weight") t = Tensor::full(t.shape(), 3e38f);
    save_weights(huge, state);
  }
  Generator gen(2);
  const std::string npy = npy_file("huge_in.npy", Tensor::uniform({1, 3, 4, 16, 16}, 0, 1, gen));
  fs::remove(out);
  const CommandResult r = run_command(g_infer + kModelFlags + " --weights " + huge +
                                      " --input-npy " + npy + " --logits-out " + out);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("error: infer: the model's output is not finite (sample 0, class "),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(huge + " overflow on this input"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out));
}

// --logits-out is checked before the model runs: it once replaced the weight file, the .npy input
// or a frame it was given, and a directory it could not be written in failed after the whole
// prediction had been printed.
TEST(Infer, ALogitsFileThatWouldReplaceAnInputOrCannotBeWrittenIsRefusedFirst) {
  const std::string video = write_video("out_video", 4);
  const std::string weights = test_tmp("out_weights.json");
  fs::copy_file(write_weights(), weights, fs::copy_options::overwrite_existing);
  Generator gen(3);
  const std::string npy = npy_file("out_in.npy", Tensor::uniform({1, 3, 4, 16, 16}, 0, 1, gen));
  const std::string frame = video + "/frame_0.png";
  const std::string clip = " --frames 4 --resize 0 --size 28 --video " + video;
  const struct {
    std::string input, out, error;
  } cases[] = {
      {clip, weights, "error: flag --logits-out " + weights + " is the input " + weights},
      {" --input-npy " + npy, npy, "is the input " + npy},
      {clip, frame, "is a file in the input directory " + video},
      {clip, test_tmp("no_such_dir") + "/l.json",
       "l.json: the directory " + test_tmp("no_such_dir") + " does not exist"},
      {clip, video, "exists and is not a regular file"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.out);
    const std::string before =
        fs::exists(c.out) && fs::is_regular_file(c.out) ? read_text(c.out) : "";
    const CommandResult r = run_command(g_infer + kModelFlags + " --weights " + weights + c.input +
                                        " --logits-out " + c.out);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(c.error), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("top "), std::string::npos) << r.output;  // nothing was predicted
    if (!before.empty()) {
      EXPECT_EQ(read_text(c.out), before);
    }
  }
}

TEST(Infer, HelpListsEveryFlagWithItsDefault) {
  const CommandResult r = run_command(g_infer + " --help");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* flag :
       {"--model (default: resnet18_2d)", "--weights", "--video", "--input-npy", "--labels",
        "--top (default: 5)", "--logits-out", "--classes (default: 400)",
        "--flow (default: after3)", "--flow-iters (default: 10)", "--frames (default: 16)",
        "--resize (default: 128)", "--size (default: 112)", "--stride (default: 1)",
        "--clips (default: 1)", "--norm (default: imagenet)", "--device (default: auto)",
        "--threads", "loops"})
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: infer_test PATH_TO_INFER\n");
    return 2;
  }
  repflow::g_infer = argv[1];
  return RUN_ALL_TESTS();
}
