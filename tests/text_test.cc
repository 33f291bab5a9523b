#include "framework/text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace repflow {
namespace {

using Items = std::vector<std::string>;

TEST(Text, SplitKeepsEmptyItemsAndGivesNoneForEmptyText) {
  EXPECT_EQ(split("", ','), Items{});
  EXPECT_EQ(split("a", ','), Items{"a"});
  EXPECT_EQ(split("a,b", ','), (Items{"a", "b"}));
  EXPECT_EQ(split("a,,b", ','), (Items{"a", "", "b"}));
  EXPECT_EQ(split("a,", ','), (Items{"a", ""}));
  EXPECT_EQ(split(",a", ','), (Items{"", "a"}));
  EXPECT_EQ(split(",", ','), (Items{"", ""}));
  EXPECT_EQ(split("flow:0.1:", ':'), (Items{"flow", "0.1", ""}));
  EXPECT_EQ(split("a,b", ':'), Items{"a,b"});
}

TEST(Text, JoinPutsTheSeparatorBetweenItems) {
  EXPECT_EQ(join({}, ","), "");
  EXPECT_EQ(join({"a"}, ","), "a");
  EXPECT_EQ(join({"a", "b", "c"}, ","), "a,b,c");
  EXPECT_EQ(join({"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(join({"", ""}, ","), ",");
}

TEST(Text, JoinUndoesSplit) {
  for (const std::string x : {"", "a", "a,b", "a,,b", "a,", ",a", ",", ",,", "ab,cd,ef"}) {
    EXPECT_EQ(join(split(x, ','), ","), x) << "text '" << x << "'";
  }
}

}  // namespace
}  // namespace repflow
