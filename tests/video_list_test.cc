#include "training/data/video_list.h"

#include <gtest/gtest.h>

#include "framework/error.h"
#include "tests/frame_fixture.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

std::vector<std::string> names(const VideoList& list) {
  std::vector<std::string> out;
  for (const VideoEntry& v : list.videos) out.push_back(v.name);
  return out;
}

std::vector<int64_t> labels(const VideoList& list) {
  std::vector<int64_t> out;
  for (const VideoEntry& v : list.videos) out.push_back(v.label);
  return out;
}

TEST(VideoList, HmdbSplitsNumberClassesInOrderOfFirstAppearance) {
  const std::string train = test_tmp("hmdb/split1_train.txt");
  write_text(train,
             "Pour_wine_pour_u_nm_np1_fr_med_0.avi pour\r\n\n"
             "Jump_high_jump_f_cm_np1_ba_bad_2.avi jump\n"
             "Pour_beer_pour_u_cm_np1_fr_goo_1.avi pour\n");
  const VideoList list = read_video_list(train, ListFormat::kHmdb);
  EXPECT_EQ(list.classes, (std::vector<std::string>{"pour", "jump"}));
  EXPECT_EQ(names(list), (std::vector<std::string>{"Pour_wine_pour_u_nm_np1_fr_med_0.avi",
                                                   "Jump_high_jump_f_cm_np1_ba_bad_2.avi",
                                                   "Pour_beer_pour_u_cm_np1_fr_goo_1.avi"}));
  EXPECT_EQ(labels(list), (std::vector<int64_t>{0, 1, 0}));
  for (const VideoEntry& v : list.videos) EXPECT_EQ(v.num_frames, -1);

  const std::string test = test_tmp("hmdb/split1_test.txt");
  write_text(test, "b.avi jump\na.avi pour\n");
  const VideoList val = read_video_list(test, ListFormat::kHmdb, list.classes);
  EXPECT_EQ(val.classes, list.classes);
  EXPECT_EQ(labels(val), (std::vector<int64_t>{1, 0}));

  write_text(test, "b.avi jump\nc.avi wave\n");
  EXPECT_ERROR_CONTAINS(read_video_list(test, ListFormat::kHmdb, list.classes),
                        test + ":2: unknown label 'wave'");
  write_text(test, "b.avi jump\n\nlonely_name.avi\n");
  EXPECT_ERROR_CONTAINS(read_video_list(test, ListFormat::kHmdb),
                        test + ":3: expected 'NAME LABEL'");
  EXPECT_ERROR_CONTAINS(read_video_list(test_tmp("hmdb/none.txt"), ListFormat::kHmdb),
                        "hmdb/none.txt: cannot open file");
}

TEST(VideoList, KineticsListsOfThePapersCodeGiveClassIndices) {
  const std::string path = test_tmp("kinetics/mini_train.json");
  write_text(path, R"({"rgb_b-Id_3_13.mp4": 0, "rgb_a_Id_1_11.mp4": 2})");
  const VideoList list = read_video_list(path, ListFormat::kKinetics);
  EXPECT_EQ(names(list), (std::vector<std::string>{"rgb_a_Id_1_11.mp4", "rgb_b-Id_3_13.mp4"}));
  EXPECT_EQ(labels(list), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(list.classes, (std::vector<std::string>{"0", "1", "2"}));

  const std::string cls = test_tmp("kinetics/mini_cls.json");
  write_text(cls, R"({"\"drop kicking\"": 1, "hugging": 0, "\"tying bow tie\"": 2})");
  const std::vector<std::string> names = read_class_names(cls);
  EXPECT_EQ(names, (std::vector<std::string>{"hugging", "drop kicking", "tying bow tie"}));
  EXPECT_EQ(read_video_list(path, ListFormat::kKinetics, names).classes, names);
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kKinetics, {"a", "b"}),
                        "video 'rgb_a_Id_1_11.mp4': unknown label 2 (there are 2 classes)");

  write_text(path, R"({"rgb_a.mp4": 1, "rgb_b.mp4": "jump"})");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kKinetics),
                        "video 'rgb_b.mp4': expected a class index");
  write_text(path, R"({"rgb_a.mp4": 1, )");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kKinetics), "not valid JSON");
  write_text(cls, R"({"a": 0, "b": 0})");
  EXPECT_ERROR_CONTAINS(read_class_names(cls), "two classes have index 0");
}

TEST(VideoList, OfficialKineticsAnnotationsNumberClassesAlphabetically) {
  const std::string path = test_tmp("kinetics/official_train.json");
  write_text(path, R"({
    "zz9": {"annotations": {"label": "zumba", "segment": [1.0, 11.0]}, "subset": "train"},
    "aa1": {"annotations": {"label": "abseiling", "segment": [0.0, 10.0]}, "subset": "train"},
    "mm5": {"annotations": {"label": "zumba", "segment": [3.0, 13.0]}, "subset": "train"}})");
  const VideoList list = read_video_list(path, ListFormat::kKinetics);
  EXPECT_EQ(list.classes, (std::vector<std::string>{"abseiling", "zumba"}));
  EXPECT_EQ(names(list), (std::vector<std::string>{"aa1", "mm5", "zz9"}));
  EXPECT_EQ(labels(list), (std::vector<int64_t>{0, 1, 1}));

  const std::string val = test_tmp("kinetics/official_val.json");
  write_text(val, R"({"v1": {"annotations": {"label": "yodelling"}, "subset": "validate"}})");
  EXPECT_ERROR_CONTAINS(read_video_list(val, ListFormat::kKinetics, list.classes),
                        "video 'v1': unknown label 'yodelling'");
  write_text(val, R"({"v1": {"annotations": {"label": "zumba"}}, "v2": {"subset": "test"}})");
  EXPECT_ERROR_CONTAINS(read_video_list(val, ListFormat::kKinetics, list.classes),
                        "video 'v2': expected {\"annotations\": {\"label\": NAME}}");
}

TEST(VideoList, PlainListsGivePathsFrameCountsAndIntegerLabels) {
  const std::string path = test_tmp("plain/train.txt");
  write_text(path, "class a/video one 12 1\n\n  b 5 0  \n");
  const VideoList list = read_video_list(path, ListFormat::kPlain);
  EXPECT_EQ(names(list), (std::vector<std::string>{"class a/video one", "b"}));
  EXPECT_EQ(labels(list), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(list.videos[0].num_frames, 12);
  EXPECT_EQ(list.videos[1].num_frames, 5);
  EXPECT_EQ(list.classes, (std::vector<std::string>{"0", "1"}));

  write_text(path, "a 12 1\nb x 0\n");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kPlain),
                        path + ":2: expected 'PATH NUM_FRAMES LABEL'");
  write_text(path, "a 12 1\nb 3 -1\n");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kPlain),
                        path + ":2: label -1 is negative");
  write_text(path, "a -12 1\n");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kPlain),
                        path + ":1: negative frame count -12");
  write_text(path, "a 12 3\n");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kPlain, {"x", "y"}),
                        path + ":1: unknown label 3");
}

TEST(VideoList, FormatNamesAndClassFiles) {
  EXPECT_EQ(parse_list_format("hmdb"), ListFormat::kHmdb);
  EXPECT_EQ(parse_list_format("kinetics"), ListFormat::kKinetics);
  EXPECT_EQ(parse_list_format("plain"), ListFormat::kPlain);
  EXPECT_ERROR_CONTAINS(parse_list_format("ucf"),
                        "unknown list format 'ucf' (expected hmdb, kinetics or plain)");
  const std::string path = test_tmp("classes.txt");
  write_text(path, "brush_hair\ncartwheel\n\n");
  EXPECT_EQ(read_class_names(path), (std::vector<std::string>{"brush_hair", "cartwheel"}));
}

}  // namespace
}  // namespace repflow
