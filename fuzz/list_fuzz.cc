// Every list format (training/data/video_list.h), from files a user names with --train-list and
// --val-list. The first byte picks the format (low 3 bits), the role (bit 3) and whether the
// classes are already known (bit 4: a validation list read with a training list's classes); the
// rest, cut at NUL bytes, is the file or the files of a split directory.
#include <filesystem>

#include "fuzz/fuzz_input.h"
#include "training/data/video_list.h"

namespace {

using repflow::ListFormat;

// A fresh directory `name` under the scratch directory holding `files` (name, content).
std::string directory(const std::string& name,
                      const std::vector<std::pair<std::string, std::string>>& files) {
  const std::string dir = repflow::fuzz::scratch_dir() + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const auto& [file, content] : files) repflow::fuzz::write_input(name + "/" + file, content);
  return dir;
}

std::string part(const std::vector<std::string>& parts, size_t i) {
  return i < parts.size() ? parts[i] : std::string();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int mode = data[0] % 8;
  const repflow::ListRole role = data[0] & 8 ? repflow::ListRole::kVal : repflow::ListRole::kTrain;
  std::vector<std::string> classes;
  if (data[0] & 16) classes = {"brush_hair", "cartwheel", "ApplyEyeMakeup"};
  const std::vector<std::string> parts = repflow::fuzz::split_at_nul(data + 1, size - 1);
  std::string path;
  ListFormat format = ListFormat::kHmdb;
  int split = 0;
  switch (mode) {
    case 0:
      path = repflow::fuzz::write_input("list.txt", part(parts, 0));
      break;
    case 1:  // HMDB51's split directory: one file per class
      path = directory("hmdb", {{"brush_hair_test_split1.txt", part(parts, 0)},
                                {"cartwheel_test_split1.txt", part(parts, 1)},
                                {"cartwheel_test_split2.txt", part(parts, 2)}});
      split = 1;
      break;
    case 2:  // a UCF101 list with the classInd.txt beside it
      format = ListFormat::kUcf101;
      path = directory("ucf",
                       {{"trainlist01.txt", part(parts, 0)}, {"classInd.txt", part(parts, 1)}}) +
             "/trainlist01.txt";
      break;
    case 3:  // UCF101's directory read with a split
      format = ListFormat::kUcf101;
      path = directory("ucf_dir", {{"trainlist01.txt", part(parts, 0)},
                                   {"testlist01.txt", part(parts, 1)},
                                   {"classInd.txt", part(parts, 2)}});
      split = 1;
      break;
    case 4:  // the paper's Kinetics JSON, or an official annotation file
      format = ListFormat::kKinetics;
      path = repflow::fuzz::write_input("kinetics.json", part(parts, 0));
      break;
    case 5:  // the official Kinetics CSV
      format = ListFormat::kKinetics;
      path = repflow::fuzz::write_input("kinetics.csv", part(parts, 0));
      break;
    default:
      format = ListFormat::kPlain;
      path = repflow::fuzz::write_input("plain.txt", part(parts, 0));
      break;
  }
  repflow::fuzz::expect_clean(
      [&] { (void)repflow::read_video_list(path, format, classes, role, split); });
  return 0;
}
