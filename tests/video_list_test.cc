#include "training/data/video_list.h"

#include <gtest/gtest.h>

#include "framework/error.h"
#include "tests/frame_fixture.h"
#include "tests/test_util.h"
#include "training/data/frame_dataset.h"
#include "training/data/list_parsing.h"

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
  // One endless line, were it read.
  EXPECT_ERROR_CONTAINS(read_video_list("/dev/zero", ListFormat::kPlain),
                        "/dev/zero: not a regular file");
  EXPECT_ERROR_CONTAINS(read_class_names("/dev/zero"), "/dev/zero: not a regular file");
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
  EXPECT_ERROR_CONTAINS(read_video_list(val, ListFormat::kKinetics, list.classes, ListRole::kVal),
                        "video 'v1': unknown label 'yodelling'");
  write_text(val, R"({"v1": {"annotations": {"label": "zumba"}}, "v2": {"subset": "validate"}})");
  EXPECT_ERROR_CONTAINS(read_video_list(val, ListFormat::kKinetics, list.classes, ListRole::kVal),
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
  EXPECT_EQ(parse_list_format("ucf101"), ListFormat::kUcf101);
  EXPECT_ERROR_CONTAINS(parse_list_format("ucf"),
                        "unknown list format 'ucf' (expected hmdb, ucf101, kinetics or plain)");
  const std::string path = test_tmp("classes.txt");
  write_text(path, "brush_hair\ncartwheel\n\n");
  EXPECT_EQ(read_class_names(path), (std::vector<std::string>{"brush_hair", "cartwheel"}));
}

// ---------------------------------------------------------------------------------------------
// The official lists, written here in the layout of the published files.

// HMDB51's testTrainMulti_7030_splits: one file per class and split, `NAME.avi MARK ` lines
// (a space after the mark, as the published files have), some with CRLF line ends.
std::string write_hmdb_splits(const std::string& name) {
  const std::string dir = fresh_dir(name);
  // Written out of alphabetical order: the class numbering must not follow the directory.
  write_text(dir + "/walk_test_split1.txt", "w1.avi 1 \nw2.avi 2 \nw3.avi 0 \nw4.avi 1 \n");
  write_text(dir + "/brush_hair_test_split1.txt", "b1.avi 2 \r\nb2.avi 1 \r\n\r\nb3.avi 1 \r\n");
  write_text(dir + "/jump_test_split1.txt", "j1.avi 1\nj2.avi 2\n");
  // Split 2 marks the same videos differently.
  write_text(dir + "/walk_test_split2.txt", "w1.avi 2 \nw2.avi 1 \nw3.avi 1 \nw4.avi 0 \n");
  write_text(dir + "/brush_hair_test_split2.txt", "b1.avi 1 \nb2.avi 2 \nb3.avi 0 \n");
  write_text(dir + "/jump_test_split2.txt", "j1.avi 0\nj2.avi 1\n");
  write_text(dir + "/README.txt", "There are totally 153 files in this folder\n");
  return dir;
}

std::vector<std::vector<std::string>> other_names(const VideoList& list) {
  std::vector<std::vector<std::string>> out;
  for (const VideoEntry& v : list.videos) out.push_back(v.other_names);
  return out;
}

TEST(OfficialLists, HmdbSplitDirectoryTakesTheSplitsRowsOfEachRoleClassesAlphabetically) {
  const std::string dir = write_hmdb_splits("hmdb_official/testTrainMulti_7030_splits");
  const VideoList train = read_video_list(dir, ListFormat::kHmdb, {}, ListRole::kTrain, 1);
  EXPECT_EQ(train.classes, (std::vector<std::string>{"brush_hair", "jump", "walk"}));
  EXPECT_EQ(names(train),
            (std::vector<std::string>{"b2.avi", "b3.avi", "j1.avi", "w1.avi", "w4.avi"}));
  EXPECT_EQ(labels(train), (std::vector<int64_t>{0, 0, 1, 2, 2}));
  EXPECT_EQ(other_names(train)[0], (std::vector<std::string>{"brush_hair/b2.avi"}));
  EXPECT_EQ(other_names(train)[4], (std::vector<std::string>{"walk/w4.avi"}));
  for (const VideoEntry& v : train.videos) EXPECT_EQ(v.num_frames, -1);

  const VideoList val = read_video_list(dir, ListFormat::kHmdb, train.classes, ListRole::kVal, 1);
  EXPECT_EQ(val.classes, train.classes);
  EXPECT_EQ(names(val), (std::vector<std::string>{"b1.avi", "j2.avi", "w2.avi"}));
  EXPECT_EQ(labels(val), (std::vector<int64_t>{0, 1, 2}));

  const VideoList train2 = read_video_list(dir, ListFormat::kHmdb, {}, ListRole::kTrain, 2);
  EXPECT_EQ(names(train2), (std::vector<std::string>{"b1.avi", "j2.avi", "w2.avi", "w3.avi"}));
  const VideoList val2 = read_video_list(dir, ListFormat::kHmdb, {}, ListRole::kVal, 2);
  EXPECT_EQ(names(val2), (std::vector<std::string>{"b2.avi", "w1.avi"}));
  EXPECT_EQ(labels(val2), (std::vector<int64_t>{0, 2}));

  // Validation read with classes of another order (the paper's lists number by appearance).
  const VideoList by_appearance =
      read_video_list(dir, ListFormat::kHmdb, {"walk", "jump", "brush_hair"}, ListRole::kVal, 1);
  EXPECT_EQ(labels(by_appearance), (std::vector<int64_t>{2, 1, 0}));
  EXPECT_ERROR_CONTAINS(
      read_video_list(dir, ListFormat::kHmdb, {"walk", "jump"}, ListRole::kVal, 1),
      dir + "/brush_hair_test_split1.txt:1: unknown label 'brush_hair'");
}

TEST(OfficialLists, HmdbSplitDirectoryErrorsNameTheFileAndLine) {
  const std::string dir = write_hmdb_splits("hmdb_official/bad");
  EXPECT_ERROR_CONTAINS(read_video_list(dir, ListFormat::kHmdb),
                        dir +
                            ": a directory; read as an official split directory it needs a "
                            "split, 1, 2 or 3");
  EXPECT_ERROR_CONTAINS(read_video_list(dir, ListFormat::kHmdb, {}, ListRole::kTrain, 4),
                        "HMDB51 has splits 1, 2 and 3, not 4");
  write_text(dir + "/walk_test_split3.txt", "w1.avi 1\n");
  write_text(dir + "/brush_hair_test_split3.txt", "b1.avi 1\n");
  write_text(dir + "/jump_test_split3.txt", "j1.avi 1\nj2.avi 3\n");
  EXPECT_ERROR_CONTAINS(read_video_list(dir, ListFormat::kHmdb, {}, ListRole::kTrain, 3),
                        dir +
                            "/jump_test_split3.txt:2: expected 'NAME.avi 0|1|2' (HMDB51's "
                            "split files: 1 training, 2 testing, 0 unused), got 'j2.avi 3'");
  write_text(dir + "/jump_test_split3.txt", "j1.avi 1\nj2 two.avi 2\n");
  EXPECT_ERROR_CONTAINS(read_video_list(dir, ListFormat::kHmdb, {}, ListRole::kTrain, 3),
                        dir + "/jump_test_split3.txt:2: expected 'NAME.avi 0|1|2'");
  write_text(dir + "/jump_test_split3.txt", "j1.avi 1\nj2.avi 0\n");
  EXPECT_ERROR_CONTAINS(read_video_list(dir, ListFormat::kHmdb, {}, ListRole::kVal, 3),
                        dir + ": split 3 has no validation videos (lines marked 2)");
  const std::string empty = fresh_dir("hmdb_official/empty");
  EXPECT_ERROR_CONTAINS(read_video_list(empty, ListFormat::kHmdb, {}, ListRole::kTrain, 1),
                        empty + ": no HMDB51 split files '<class>_test_split1.txt'");
  EXPECT_ERROR_CONTAINS(
      read_video_list(dir + "/walk_test_split1.txt", ListFormat::kHmdb, {}, ListRole::kTrain, 1),
      "walk_test_split1.txt: split 1 picks the split of an official split directory");
  // Other formats take files only.
  EXPECT_ERROR_CONTAINS(read_video_list(dir, ListFormat::kPlain),
                        dir + ": a directory, expected a plain list file");
}

// A class whose file of the split is missing would have dropped out of the class list (with one
// class left, a model that is always right).
TEST(OfficialLists, AClassLackingTheSplitsFileIsAnError) {
  const std::string dir = fresh_dir("hmdb_official/missing");
  write_text(dir + "/a_test_split1.txt", "a1.avi 1\na2.avi 2\n");
  write_text(dir + "/a_test_split2.txt", "a1.avi 1\na2.avi 2\n");
  write_text(dir + "/b_test_split2.txt", "b1.avi 1\nb2.avi 2\n");
  EXPECT_ERROR_CONTAINS(read_video_list(dir, ListFormat::kHmdb, {}, ListRole::kTrain, 1),
                        dir + ": class 'b' has b_test_split2.txt but no b_test_split1.txt");
  EXPECT_EQ(read_video_list(dir, ListFormat::kHmdb, {}, ListRole::kTrain, 2).classes,
            (std::vector<std::string>{"a", "b"}));
}

// Editors on Windows start files with a byte-order mark, which once became part of the first
// video's name; a class name with a control character would print as something else.
TEST(VideoList, AByteOrderMarkIsDroppedAndControlCharactersInClassNamesAreErrors) {
  const std::string path = test_tmp("bom/train.txt");
  write_text(path, "\xEF\xBB\xBFv1.avi run\nv2.avi walk\n");
  const VideoList list = read_video_list(path, ListFormat::kHmdb);
  EXPECT_EQ(names(list), (std::vector<std::string>{"v1.avi", "v2.avi"}));
  EXPECT_EQ(list.classes, (std::vector<std::string>{"run", "walk"}));
  write_text(path, "v1.avi run\nv2.avi w\x1b[31malk\n");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kHmdb),
                        path + ":2: class name 'w\\x1b[31malk' holds the control character 27");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kPlain, {"a", "b\tc"}),
                        "class 1: class name 'b\\x09c' holds the control character 9");
  // A line no list has: once quoted whole in a 40 MB error.
  write_text(path, "v1 4 0\n" + std::string(kMaxListLineBytes, 'x') + " 4 1\n");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kPlain),
                        path + ":2: a line of 65540 bytes, longer than any list's (65536)");
  // A class list that names one class twice (a classInd.txt with "1 A" and "2 A").
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kPlain, {"a", "b", "a"}),
                        "class name 'a' is given twice (classes 0 and 2)");
}

TEST(OfficialLists, AnOfficialHmdbSplitFileGivenAsAListSaysToGiveTheDirectory) {
  const std::string dir = write_hmdb_splits("hmdb_official/as_list");
  const std::string file = dir + "/walk_test_split1.txt";
  const std::string expected =
      file + ":1: expected 'NAME.avi CLASS' (the paper's split lists), got 'w1.avi 1'";
  EXPECT_ERROR_CONTAINS(read_video_list(file, ListFormat::kHmdb), expected);
  EXPECT_ERROR_CONTAINS(read_video_list(file, ListFormat::kHmdb), "--split 1, 2 or 3");
  EXPECT_ERROR_CONTAINS(read_video_list(file, ListFormat::kHmdb), "testTrainMulti_7030_splits");
  // As the validation list, the format is the error, not an unknown class "1".
  EXPECT_ERROR_CONTAINS(read_video_list(file, ListFormat::kHmdb, {"walk"}, ListRole::kVal),
                        expected);
  // Other layouts given as the paper's lists: each an error at the line that shows it.
  const std::string other = test_tmp("hmdb_official/other.txt");
  write_text(other, "a.avi pour\nApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n");
  EXPECT_ERROR_CONTAINS(read_video_list(other, ListFormat::kHmdb),
                        other +
                            ":2: expected 'NAME LABEL' with LABEL a class name, got "
                            "'ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1': integer labels");
  write_text(other, R"({"a.mp4": 0, "b.mp4": 1})");
  EXPECT_ERROR_CONTAINS(read_video_list(other, ListFormat::kHmdb),
                        other + ":1: expected 'NAME LABEL', got '{\"a.mp4\": 0, \"b.mp4\": 1}'");
  write_text(other, "a.avi pour\nclip 12 pour\n");
  EXPECT_ERROR_CONTAINS(read_video_list(other, ListFormat::kHmdb),
                        other + ":2: expected 'NAME LABEL', got 'clip 12 pour'");
}

// UCF101's ucfTrainTestlist, with the CRLF line ends of the published files.
std::string write_ucf_lists(const std::string& name) {
  const std::string dir = fresh_dir(name);
  write_text(dir + "/classInd.txt", "1 ApplyEyeMakeup\r\n2 Archery\r\n3 HandstandPushups\r\n");
  write_text(dir + "/trainlist01.txt",
             "HandstandPushups/v_HandStandPushups_g08_c01.avi 3\r\n"
             "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\n"
             "Archery/v_Archery_g09_c02.avi 2\r\n");
  write_text(dir + "/testlist01.txt",
             "Archery/v_Archery_g01_c01.avi\r\nApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\r\n");
  write_text(dir + "/trainlist02.txt", "Archery/v_Archery_g01_c01.avi 2\r\n");
  write_text(dir + "/testlist02.txt", "HandstandPushups/v_HandStandPushups_g08_c01.avi\r\n");
  return dir;
}

TEST(OfficialLists, Ucf101ListsTakeClassesFromClassIndBesideThem) {
  const std::string dir = write_ucf_lists("ucf/ucfTrainTestlist");
  const VideoList train = read_video_list(dir + "/trainlist01.txt", ListFormat::kUcf101);
  EXPECT_EQ(train.classes,
            (std::vector<std::string>{"ApplyEyeMakeup", "Archery", "HandstandPushups"}));
  EXPECT_EQ(names(train),
            (std::vector<std::string>{"HandstandPushups/v_HandStandPushups_g08_c01.avi",
                                      "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi",
                                      "Archery/v_Archery_g09_c02.avi"}));
  EXPECT_EQ(labels(train), (std::vector<int64_t>{2, 0, 1}));
  EXPECT_EQ(other_names(train)[1], (std::vector<std::string>{"v_ApplyEyeMakeup_g08_c01.avi"}));

  const VideoList val =
      read_video_list(dir + "/testlist01.txt", ListFormat::kUcf101, train.classes, ListRole::kVal);
  EXPECT_EQ(names(val), (std::vector<std::string>{"Archery/v_Archery_g01_c01.avi",
                                                  "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"}));
  EXPECT_EQ(labels(val), (std::vector<int64_t>{1, 0}));

  // The directory with a split: trainlist0k for training, testlist0k for validation.
  const VideoList train2 = read_video_list(dir, ListFormat::kUcf101, {}, ListRole::kTrain, 2);
  EXPECT_EQ(names(train2), (std::vector<std::string>{"Archery/v_Archery_g01_c01.avi"}));
  const VideoList val2 = read_video_list(dir, ListFormat::kUcf101, {}, ListRole::kVal, 2);
  EXPECT_EQ(names(val2),
            (std::vector<std::string>{"HandstandPushups/v_HandStandPushups_g08_c01.avi"}));
  EXPECT_EQ(labels(val2), (std::vector<int64_t>{2}));
  EXPECT_EQ(labels(read_video_list(dir, ListFormat::kUcf101, {}, ListRole::kTrain, 1)),
            labels(train));

  // classInd.txt is also a class-names file, and fixed classes replace it.
  EXPECT_EQ(read_class_names(dir + "/classInd.txt"), train.classes);
  const VideoList renamed = read_video_list(dir + "/testlist01.txt", ListFormat::kUcf101,
                                            {"Archery", "ApplyEyeMakeup"}, ListRole::kVal);
  EXPECT_EQ(labels(renamed), (std::vector<int64_t>{0, 1}));
}

TEST(OfficialLists, Ucf101ErrorsNameTheFileAndLine) {
  const std::string dir = write_ucf_lists("ucf/bad");
  const std::string list = dir + "/trainlist01.txt";
  std::filesystem::remove(dir + "/classInd.txt");
  EXPECT_ERROR_CONTAINS(read_video_list(list, ListFormat::kUcf101),
                        list +
                            ": UCF101's lists take their classes from the classInd.txt beside "
                            "them, and there is no " +
                            dir + "/classInd.txt");
  write_text(dir + "/classInd.txt", "1 ApplyEyeMakeup\r\n3 Archery\r\n");
  EXPECT_ERROR_CONTAINS(read_video_list(list, ListFormat::kUcf101),
                        dir + "/classInd.txt:2: class index 3 is outside 1 ... 2");
  write_text(dir + "/classInd.txt", "1 ApplyEyeMakeup\r\n1 Archery\r\n");
  EXPECT_ERROR_CONTAINS(read_video_list(list, ListFormat::kUcf101),
                        dir + "/classInd.txt:2: class index 1 appears twice");
  write_text(dir + "/classInd.txt", "ApplyEyeMakeup\r\nArchery\r\n");
  EXPECT_ERROR_CONTAINS(read_video_list(list, ListFormat::kUcf101),
                        dir + "/classInd.txt: expected classInd.txt's 'INDEX NAME' lines");

  write_text(dir + "/classInd.txt", "1 ApplyEyeMakeup\r\n2 Archery\r\n3 HandstandPushups\r\n");
  write_text(list, "Archery/v_Archery_g09_c02.avi 2\r\nArchery/v_Archery_g09_c03.avi 1\r\n");
  EXPECT_ERROR_CONTAINS(read_video_list(list, ListFormat::kUcf101),
                        list +
                            ":2: class index 1 is 'ApplyEyeMakeup' in the class list, but the "
                            "video's folder is 'Archery'");
  write_text(list, "Archery/v_Archery_g09_c02.avi 4\r\n");
  EXPECT_ERROR_CONTAINS(read_video_list(list, ListFormat::kUcf101),
                        list + ":1: class index 4 is outside 1 ... 3");
  write_text(list, "Archery/v_Archery_g09_c02.avi 2\r\nv_Archery_g09_c03.avi 2\r\n");
  EXPECT_ERROR_CONTAINS(read_video_list(list, ListFormat::kUcf101),
                        list +
                            ":2: expected UCF101's 'CLASS/NAME.avi INDEX' (trainlist) or "
                            "'CLASS/NAME.avi' (testlist), got 'v_Archery_g09_c03.avi 2'");
  write_text(list, "Rowing/v_Rowing_g01_c01.avi\r\n");
  EXPECT_ERROR_CONTAINS(read_video_list(list, ListFormat::kUcf101),
                        list + ":1: unknown label 'Rowing' (not among the 3 classes)");
  // classInd.txt itself given as the list.
  EXPECT_ERROR_CONTAINS(read_video_list(dir + "/classInd.txt", ListFormat::kUcf101),
                        dir + "/classInd.txt:1: expected UCF101's 'CLASS/NAME.avi INDEX'");
  EXPECT_ERROR_CONTAINS(read_video_list(dir, ListFormat::kUcf101, {}, ListRole::kVal, 3),
                        dir + "/testlist03.txt: cannot open file");
}

// Kinetics' official CSV: a header, labels quoted when they hold a comma, the is_cc column of
// Kinetics-400, CRLF line ends, a UTF-8 byte-order mark, train, val and test rows in one file.
const char* kKineticsCsv =
    "\xEF\xBB\xBFlabel,youtube_id,time_start,time_end,split,is_cc\r\n"
    "zumba,zz9,1,11,train,0\r\n"
    "\"air drumming\",-aA_1,0,10,train,1\r\n"
    "\"passing, kicking \"\"ball\"\"\",p1,5,15,val,0\r\n"
    "\r\n"
    "air drumming,ad2,30.0,40.0,val,0\r\n"
    ",tt1,2,12,test,0\r\n"
    "\"passing, kicking \"\"ball\"\"\" ,p2,7,17,train,0\r\n";

TEST(OfficialLists, KineticsCsvHonoursTheSplitColumnAndNamesClipsAsTheDownloaderDoes) {
  const std::string path = test_tmp("kinetics_csv/kinetics_400.csv");
  write_text(path, kKineticsCsv);
  const VideoList train = read_video_list(path, ListFormat::kKinetics);
  EXPECT_EQ(train.classes,
            (std::vector<std::string>{"air drumming", "passing, kicking \"ball\"", "zumba"}));
  EXPECT_EQ(names(train), (std::vector<std::string>{"zz9_000001_000011", "-aA_1_000000_000010",
                                                    "p2_000007_000017"}));
  EXPECT_EQ(labels(train), (std::vector<int64_t>{2, 0, 1}));
  EXPECT_EQ(other_names(train)[1], (std::vector<std::string>{"air drumming/-aA_1_000000_000010",
                                                             "air_drumming/-aA_1_000000_000010"}));
  EXPECT_EQ(other_names(train)[0], (std::vector<std::string>{"zumba/zz9_000001_000011"}));

  // The same file as the validation list gives its val rows only.
  const VideoList val = read_video_list(path, ListFormat::kKinetics, train.classes, ListRole::kVal);
  EXPECT_EQ(names(val), (std::vector<std::string>{"p1_000005_000015", "ad2_000030_000040"}));
  EXPECT_EQ(labels(val), (std::vector<int64_t>{1, 0}));

  // Kinetics-700's files have no is_cc column; columns are found by the header's names.
  write_text(path, "split,time_end,time_start,youtube_id,label\nval,9,3,x1,yoga\n");
  const VideoList reordered = read_video_list(path, ListFormat::kKinetics, {}, ListRole::kVal);
  EXPECT_EQ(names(reordered), (std::vector<std::string>{"x1_000003_000009"}));
  EXPECT_EQ(reordered.classes, (std::vector<std::string>{"yoga"}));
}

TEST(OfficialLists, KineticsCsvErrorsShowTheLine) {
  const std::string path = test_tmp("kinetics_csv/bad.csv");
  write_text(path, kKineticsCsv);
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kKinetics, {"zumba"}, ListRole::kVal),
                        path + ":4: unknown label 'passing, kicking \"ball\"'");
  write_text(path, "label,youtube_id,time_start,time_end,split\nzumba,a,1,11,train\n");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kKinetics, {}, ListRole::kVal),
                        path +
                            ": no validation videos (split validate or val); the file's "
                            "splits: train (1)");
  write_text(path, "label,youtube_id,time_start,time_end,split\nzumba,a,1,11,holdout\n");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kKinetics),
                        path + ":2: split 'holdout' is not train, val or test");
  write_text(path, "label,youtube_id,time_start,time_end,split\n\"zumba,a,1,11,train\n");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kKinetics),
                        path +
                            ":2: expected 5 comma-separated fields as the header names them, "
                            "got '\"zumba,a,1,11,train'");
  write_text(path, "label,youtube_id,time_start,time_end,split\nzumba,a,one,11,train\n");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kKinetics),
                        path +
                            ":2: expected a label, a YouTube id and start and end times in "
                            "seconds, got 'zumba,a,one,11,train'");
  write_text(path, "label,youtube_id,time_start,time_end,split\nzumba,../a,1,11,train\n");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kKinetics),
                        path + ":2: expected a label");
  // Kinetics' test CSV has no labels: not a list to train or validate on.
  write_text(path, "youtube_id,time_start,time_end,split\na,1,11,test\n");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kKinetics),
                        path +
                            ":1: expected the Kinetics CSV header 'label,youtube_id,"
                            "time_start,time_end,split[,is_cc]', got 'youtube_id,");
  // JSON in a .csv file, and CSV in a .json file.
  write_text(path, "\n  {\"a\": {\"annotations\": {\"label\": \"zumba\"}}}\n");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kKinetics),
                        path + ":2: expected the Kinetics CSV header");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kKinetics),
                        "(JSON: give it a name ending in .json)");
  const std::string json = test_tmp("kinetics_csv/train.json");
  write_text(json, kKineticsCsv);
  EXPECT_ERROR_CONTAINS(read_video_list(json, ListFormat::kKinetics),
                        json +
                            ":1: expected a JSON object (the paper's Kinetics list or an "
                            "official annotation file), got '\xEF\xBB\xBFlabel,youtube_id,");
  EXPECT_ERROR_CONTAINS(read_video_list(json, ListFormat::kKinetics),
                        "(a Kinetics CSV: give it a name ending in .csv)");
}

TEST(OfficialLists, KineticsJsonHonoursTheSubsetField) {
  const std::string path = test_tmp("kinetics_json/kinetics_400.json");
  write_text(path, R"({
    "v_b": {"annotations": {"label": "zumba", "segment": [1.0, 11.0]}, "duration": 10.0,
            "subset": "train", "url": "https://www.youtube.com/watch?v=v_b"},
    "v_a": {"annotations": {"label": "air drumming", "segment": [30.5, 40.0]}, "duration": 10.0,
            "subset": "validate", "url": "https://www.youtube.com/watch?v=v_a"},
    "v_c": {"annotations": {"label": "yodelling", "segment": [0, 10]}, "subset": "train"},
    "v_t": {"annotations": {"label": "", "segment": [0, 10]}, "subset": "test"}})");
  const VideoList train = read_video_list(path, ListFormat::kKinetics);
  EXPECT_EQ(train.classes, (std::vector<std::string>{"yodelling", "zumba"}));
  EXPECT_EQ(names(train), (std::vector<std::string>{"v_b", "v_c"}));
  EXPECT_EQ(labels(train), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(other_names(train)[0],
            (std::vector<std::string>{"v_b_000001_000011", "zumba/v_b_000001_000011"}));
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kKinetics, train.classes, ListRole::kVal),
                        path + ": video 'v_a': unknown label 'air drumming'");
  const VideoList val = read_video_list(path, ListFormat::kKinetics, {}, ListRole::kVal);
  EXPECT_EQ(names(val), (std::vector<std::string>{"v_a"}));
  EXPECT_EQ(other_names(val)[0],
            (std::vector<std::string>{"v_a_000030_000040", "air drumming/v_a_000030_000040",
                                      "air_drumming/v_a_000030_000040"}));

  write_text(path, R"({"v1": {"annotations": {"label": "zumba"}, "subset": "train"}})");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kKinetics, {}, ListRole::kVal),
                        path +
                            ": no validation videos (subset validate or val); the file's "
                            "subsets: train (1)");
  write_text(path, R"({"v1": {"annotations": {"label": "zumba"}, "subset": "holdout"}})");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kKinetics),
                        "video 'v1': subset \"holdout\" is not train, validate or test");
  write_text(path, R"({"v1": {"annotations": {"label": "zumba", "segment": [5]}}})");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kKinetics),
                        "video 'v1': expected \"segment\": [START, END] in seconds, got [5]");
}

TEST(OfficialLists, HostileSizesAreBoundedErrors) {
  const std::string path = test_tmp("hostile/plain.txt");
  write_text(path, "a 12 1\nb 3 16777216\n");
  EXPECT_ERROR_CONTAINS(read_video_list(path, ListFormat::kPlain),
                        path + ":2: label 16777216 is above the largest class index 99999");
  const std::string json = test_tmp("hostile/list.json");
  write_text(json, R"({"a.mp4": 0, "b.mp4": 16777216})");
  EXPECT_ERROR_CONTAINS(read_video_list(json, ListFormat::kKinetics),
                        "video 'b.mp4': label 16777216 is above the largest class index");
  // A long malformed line is quoted by its first 100 bytes only.
  const std::string line(60000, 'x');
  write_text(path, line + " 1\n");
  try {
    read_video_list(path, ListFormat::kPlain);
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path + ":1: expected 'PATH NUM_FRAMES LABEL'"), std::string::npos);
    EXPECT_NE(message.find(std::string(100, 'x') + "...'"), std::string::npos) << message.size();
    EXPECT_LT(message.size(), 600u);
  }
}

TEST(OfficialLists, TheDatasetFindsAVideoUnderItsOtherNames) {
  const std::string root = fresh_dir("other_names");
  const std::string splits = write_hmdb_splits("other_names/splits");
  // Frame folders as HMDB51's archives unpack (a folder per class), one also at the top level.
  write_coded_frames(root + "/brush_hair/b2", 2, 8, 8);
  write_coded_frames(root + "/brush_hair/b3", 2, 8, 8);
  write_coded_frames(root + "/b3", 2, 8, 8);
  FrameDatasetOptions o;
  o.root = root;
  const FrameDataset data(read_video_list(splits, ListFormat::kHmdb, {}, ListRole::kTrain, 1), o);
  EXPECT_EQ(data.video_name(0), root + "/brush_hair/b2");
  EXPECT_EQ(data.video_name(1), root + "/b3");  // the name as the list writes it comes first
  EXPECT_EQ(data.video_name(2), root + "/j1");  // nowhere: named as the list names it
}

}  // namespace
}  // namespace repflow
