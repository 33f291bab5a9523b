// Ctrl-C handling (training/interrupt.h): the first signal only raises the flag; a second one
// kills at once, except inside a SaveGuard, where it waits for the outermost guard to end, even
// when another thread receives it. The death tests mark with files how far the child got.
#include "training/interrupt.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "tests/test_util.h"

namespace repflow {
namespace {

// A file in the scratch directory that does not exist yet.
std::string mark_path(const std::string& name) {
  const std::string path = test_tmp(name);
  std::filesystem::remove(path);
  return path;
}

void mark(const std::string& path) { write_text(path, "reached\n"); }

bool marked(const std::string& path) { return std::filesystem::exists(path); }

TEST(Interrupt, TheFirstSignalOnlyRaisesTheFlag) {
  InterruptGuard interrupts;
  EXPECT_FALSE(InterruptGuard::requested());
  {
    SaveGuard saving;
    raise(SIGTERM);
  }
  EXPECT_TRUE(InterruptGuard::requested());
  EXPECT_EQ(InterruptGuard::signal_number(), SIGTERM);
}

TEST(InterruptDeathTest, ASecondSignalOutsideSavesKillsAtOnce) {
  const std::string after = mark_path("after_second_signal");
  EXPECT_EXIT(
      {
        InterruptGuard interrupts;
        raise(SIGINT);
        raise(SIGINT);
        mark(after);
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGINT), "");
  EXPECT_FALSE(marked(after));
}

TEST(InterruptDeathTest, ASecondSignalWhileSavingKillsWhenTheOutermostGuardEnds) {
  const std::string inner = mark_path("inner_saved"), outer = mark_path("outer_saved"),
                    after = mark_path("after_saves");
  EXPECT_EXIT(
      {
        InterruptGuard interrupts;
        raise(SIGINT);
        {
          SaveGuard checkpoint;
          {
            SaveGuard metrics;
            raise(SIGTERM);
            mark(inner);
          }
          mark(outer);
        }
        mark(after);
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGTERM), "");
  EXPECT_TRUE(marked(inner));
  EXPECT_TRUE(marked(outer));
  EXPECT_FALSE(marked(after));
}

// Blocking the signal in the saving thread would not hold back one delivered to another thread.
TEST(InterruptDeathTest, ASecondSignalToAnotherThreadWhileSavingIsDeferredToo) {
  const std::string saved = mark_path("saved_despite_thread"),
                    after = mark_path("after_thread_saves");
  EXPECT_EXIT(
      {
        InterruptGuard interrupts;
        raise(SIGINT);
        {
          SaveGuard saving;
          std::thread([] { raise(SIGINT); }).join();
          mark(saved);
        }
        mark(after);
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGINT), "");
  EXPECT_TRUE(marked(saved));
  EXPECT_FALSE(marked(after));
}

}  // namespace
}  // namespace repflow
