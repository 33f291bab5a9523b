#include "framework/flags.h"

#include <gtest/gtest.h>

#include <vector>

#include "framework/error.h"
#include "framework/parallel.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

TEST(Flags, ValuesDefaultsAndErrorsNameTheFlag) {
  Flags flags("prog", "test");
  flags.add("epochs", "3", "passes");
  flags.add("lr", "0.1", "rate");
  flags.add("quiet", "false", "less output");
  ASSERT_TRUE(parse_args(flags, {"--epochs=7", "--lr", "0.5", "--quiet"}));
  EXPECT_EQ(flags.integer("epochs"), 7);
  EXPECT_EQ(flags.number("lr"), 0.5);
  EXPECT_TRUE(flags.boolean("quiet"));
  Flags bad("prog", "test");
  bad.add("epochs", "3", "passes");
  ASSERT_TRUE(parse_args(bad, {"--epochs=x"}));
  EXPECT_ERROR_CONTAINS(bad.integer("epochs"), "flag --epochs: 'x' is not an integer");
  // strtoll and strtod accept these; the flags do not: one saturates, the others are no value
  // any flag means.
  bad.add("lr", "0.1", "rate");
  ASSERT_TRUE(parse_args(bad, {"--epochs=99999999999999999999", "--lr=inf"}));
  EXPECT_ERROR_CONTAINS(bad.integer("epochs"),
                        "flag --epochs: '99999999999999999999' is outside the 64-bit integers");
  EXPECT_ERROR_CONTAINS(bad.number("lr"), "flag --lr: 'inf' is not a number");
  for (const char* v : {"nan", "-inf", "0x10", " 5", "0x1p3", "infinity"}) {
    SCOPED_TRACE(v);
    ASSERT_TRUE(parse_args(bad, {std::string("--lr=") + v, std::string("--epochs=") + v}));
    EXPECT_ERROR_CONTAINS(bad.number("lr"), "is not a number");
    EXPECT_ERROR_CONTAINS(bad.integer("epochs"), "is not an integer");
  }
  ASSERT_TRUE(parse_args(bad, {"--lr=1e999", "--epochs=+5"}));
  EXPECT_ERROR_CONTAINS(bad.number("lr"), "flag --lr: '1e999' is not a finite number");
  EXPECT_EQ(bad.integer("epochs"), 5);
  ASSERT_TRUE(parse_args(bad, {"--lr=-1.5E-3"}));
  EXPECT_EQ(bad.number("lr"), -1.5e-3);
  ASSERT_TRUE(parse_args(bad, {"--lr=2"}));
  EXPECT_ERROR_CONTAINS(bad.number_in("lr", 0, 1), "prog: flag --lr: 2 is outside 0..1");
  EXPECT_EQ(bad.number_in("lr", 0, 2), 2);
  EXPECT_ERROR_CONTAINS(parse_args(bad, {"--nope"}), "prog: unknown flag --nope");
  EXPECT_ERROR_CONTAINS(parse_args(bad, {"stray"}), "prog: unexpected argument 'stray'");
  EXPECT_NE(flags.usage().find("--lr (default: 0.1)"), std::string::npos);
}

TEST(Flags, BooleansTakeAValueThatFollowsOrStandBare) {
  Flags flags("prog", "test");
  flags.add("quiet", "true", "less output");
  flags.add("legend", "false", "draw it");
  ASSERT_TRUE(parse_args(flags, {"--quiet", "false", "--legend", "a.png"}, true));
  EXPECT_FALSE(flags.boolean("quiet"));
  EXPECT_TRUE(flags.boolean("legend"));
  EXPECT_EQ(flags.positional(), std::vector<std::string>{"a.png"});
  // Without positional arguments, a word after a bare boolean is named with the flag.
  Flags strict("prog", "test");
  strict.add("legend", "false", "draw it");
  EXPECT_ERROR_CONTAINS(parse_args(strict, {"--legend", ""}),
                        "prog: unexpected argument '' after --legend, a boolean flag");
  EXPECT_ERROR_CONTAINS(parse_args(strict, {"--legend", "no"}),
                        "unexpected argument 'no' after --legend, a boolean flag");
  Flags plain("prog", "test");
  plain.add("legend", "false", "draw it");
  EXPECT_ERROR_CONTAINS(parse_args(plain, {"--legend=true", "x"}), "unexpected argument 'x' (see");
}

TEST(Flags, PeekFindsTheLastValueBeforeAnythingIsDeclared) {
  const std::vector<std::string> args = {"prog", "--model", "a", "--x=1", "--model=b", "--model"};
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  EXPECT_EQ(Flags::peek(static_cast<int>(argv.size()), argv.data(), "model"), "b");
  EXPECT_EQ(Flags::peek(static_cast<int>(argv.size()), argv.data(), "x"), "1");
  EXPECT_FALSE(Flags::peek(static_cast<int>(argv.size()), argv.data(), "y").has_value());
}

TEST(Flags, GivenValuesAndSetSupportSavedConfigurations) {
  Flags flags("prog", "test");
  flags.add("epochs", "3", "passes");
  flags.add("lr", "0.1", "rate");
  ASSERT_TRUE(parse_args(flags, {"--lr=0.5"}));
  EXPECT_TRUE(flags.given("lr"));
  EXPECT_FALSE(flags.given("epochs"));
  using Values = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(flags.values(), (Values{{"epochs", "3"}, {"lr", "0.5"}}));
  flags.set("epochs", "9");
  EXPECT_EQ(flags.integer("epochs"), 9);
  EXPECT_FALSE(flags.given("epochs"));
  EXPECT_ERROR_CONTAINS(flags.set("nope", "1"), "unknown flag --nope");
  flags.set_default("lr", "0.7");
  EXPECT_EQ(flags.number("lr"), 0.5);
  flags.set_default("epochs", "4");
  EXPECT_NE(flags.usage().find("--epochs (default: 4)"), std::string::npos);
  EXPECT_ERROR_CONTAINS(flags.set_default("nope", "1"), "unknown flag --nope");
  EXPECT_EQ(flags.integer_in("epochs", 1, 4), 4);
  EXPECT_ERROR_CONTAINS(flags.integer_in("epochs", 5, 9), "flag --epochs: 4 is outside 5..9");
}

TEST(Flags, RefuseGivenNamesTheFirstFlagTheCommandLineSet) {
  Flags flags("prog", "test");
  flags.add("iters", "10", "iterations");
  flags.add("warps", "5", "warps");
  flags.add("mode", "paper", "mode");
  ASSERT_TRUE(parse_args(flags, {"--mode", "paper", "--warps=5"}));
  // Given at its default is still given; not given at all is not refused.
  EXPECT_NO_THROW(flags.refuse_given({"iters"}, "is for another method"));
  EXPECT_ERROR_CONTAINS(flags.refuse_given({"iters", "warps", "mode"}, "is for another method"),
                        "flag --warps is for another method");
  EXPECT_ERROR_CONTAINS(flags.refuse_given({"mode"}, "is for tvl1", "flow"),
                        "flow: flag --mode is for tvl1");
  EXPECT_ERROR_CONTAINS(flags.refuse_given({"nope"}, "x"), "--nope");
}

TEST(Flags, WrapperCommandLinesSplitAtDoubleDash) {
  const std::vector<std::string> args = {"prog", "--out", "d", "--", "--data=hmdb", "--", "x"};
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  const SplitCommandLine split = split_at_double_dash(static_cast<int>(argv.size()), argv.data());
  EXPECT_EQ(split.own_argc, 3);
  EXPECT_EQ(split.passed_on, (std::vector<std::string>{"--data=hmdb", "--", "x"}));
  const SplitCommandLine none = split_at_double_dash(3, argv.data());
  EXPECT_EQ(none.own_argc, 3);
  EXPECT_TRUE(none.passed_on.empty());
  EXPECT_TRUE(names_flag("--data", "data"));
  EXPECT_TRUE(names_flag("--data=hmdb", "data"));
  EXPECT_TRUE(names_flag("--data=", "data"));
  EXPECT_FALSE(names_flag("--data-seed", "data"));
  EXPECT_FALSE(names_flag("--dat", "data"));
  EXPECT_FALSE(names_flag("data", "data"));
  EXPECT_FALSE(names_flag("-data", "data"));
}

TEST(Flags, RefusedPassedOnFlagsNameTheProgramTheFlagAndWhy) {
  const std::vector<RefusedFlag> refused = {{"run-dir", "set for you"}, {"check", "not here"}};
  refuse_passed_on("wrap", {"--lr", "0.1", "--run-directory=x", "--", "check"}, refused);
  EXPECT_ERROR_CONTAINS(refuse_passed_on("wrap", {"--lr", "0.1", "--check=true"}, refused),
                        "wrap: trainer flag --check cannot be given after `--` (not here)");
  EXPECT_ERROR_CONTAINS(refuse_passed_on("wrap", {"--run-dir", "d", "--check"}, refused),
                        "wrap: trainer flag --run-dir cannot be given after `--` (set for you)");
}

TEST(Flags, ThreadsFlagSetsThePoolAndRejectsBadCounts) {
  const int before = num_threads();
  Flags flags("prog", "test");
  add_threads_flag(flags, "CPU threads");
  ASSERT_TRUE(parse_args(flags, {"--threads=3"}));
  apply_threads_flag(flags);
  EXPECT_EQ(num_threads(), 3);
  set_num_threads(before);
  Flags zero("prog", "test");
  add_threads_flag(zero, "CPU threads");
  ASSERT_TRUE(parse_args(zero, {}));
  apply_threads_flag(zero);
  EXPECT_EQ(num_threads(), before);
  Flags negative("prog", "test");
  add_threads_flag(negative, "CPU threads");
  ASSERT_TRUE(parse_args(negative, {"--threads=-2"}));
  EXPECT_ERROR_CONTAINS(apply_threads_flag(negative),
                        "flag --threads: -2 is not a thread count between 0 and 1024");
}

}  // namespace
}  // namespace repflow
