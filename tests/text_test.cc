#include "framework/text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "framework/error.h"

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

TEST(Text, ExcerptCutsLongTextAndSpellsControlBytes) {
  EXPECT_EQ(excerpt("short"), "short");
  EXPECT_EQ(excerpt(std::string(150, 'a')), std::string(100, 'a') + "...");
  EXPECT_EQ(excerpt("a\nb\x1b[31m\x7f", 100), "a\\x0ab\\x1b[31m\\x7f");
  EXPECT_EQ(excerpt("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 stays as it is
  EXPECT_EQ(excerpt("\t\t\t", 2), "\\x09\\x09...");
}

}  // namespace
}  // namespace repflow
