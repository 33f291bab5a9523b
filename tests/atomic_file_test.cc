#include "framework/atomic_file.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>

#include "framework/directory_lock.h"
#include "framework/error.h"
#include "framework/image_io.h"
#include "framework/weights.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

// Runs `save` in a child process whose files may not grow past 4 KB, as on a full disk (in a
// child, so that the limit stays there). 0: it failed with an error containing "write failed";
// 3: another error; 4: no error.
int exit_code_under_a_full_disk(const std::function<void()>& save) {
  const pid_t child = fork();
  if (child == 0) {
    signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{4096, 4096};
    setrlimit(RLIMIT_FSIZE, &limit);
    try {
      save();
    } catch (const Error& e) {
      _exit(std::string(e.what()).find("write failed") != std::string::npos ? 0 : 3);
    }
    _exit(4);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A write that fails half way must keep the old file whole and remove the temporary one.
TEST(AtomicFile, AWeightFileFailingHalfWayKeepsTheOldFile) {
  const std::string dir = fresh_dir("halfway");
  const std::string path = dir + "/w.json";
  save_weights(path, std::map<std::string, Tensor>{{"old", Tensor::ones({2})}});
  const std::string old = read_text(path);
  const std::map<std::string, Tensor> big = {{"new", Tensor::ones({1 << 16})}};
  EXPECT_EQ(exit_code_under_a_full_disk([&] { save_weights(path, big); }), 0);
  EXPECT_EQ(read_text(path), old);
  EXPECT_EQ(list_dir(dir), std::vector<std::string>{"w.json"});
}

// stb's own PNG file output ignored write errors and renamed a truncated chart into place.
TEST(AtomicFile, APngFailingHalfWayKeepsTheOldFile) {
  const std::string dir = fresh_dir("png_halfway");
  const std::string path = dir + "/chart.png";
  Image small{2, 2, 3, std::vector<uint8_t>(12, 7)};
  write_png(path, small);
  const std::string old = read_text(path);
  Image noise{256, 256, 3, std::vector<uint8_t>(256 * 256 * 3)};
  uint32_t state = 1;
  for (uint8_t& v : noise.pixels)
    v = static_cast<uint8_t>((state = state * 1664525u + 1013904223u) >> 24);
  EXPECT_EQ(exit_code_under_a_full_disk([&] { write_png(path, noise); }), 0);
  EXPECT_EQ(read_text(path), old);
  EXPECT_EQ(list_dir(dir), std::vector<std::string>{"chart.png"});
  write_png(path, noise);  // without the limit it is written whole
  EXPECT_EQ(read_image(path).pixels, noise.pixels);
}

// The rename would replace a directory's name, a FIFO or, run as root, /dev/null with the new
// file: only a regular file (or a new name) is replaced, and nothing is left behind.
TEST(AtomicFile, ATargetThatIsNotARegularFileIsRefusedAndKept) {
  const std::string dir = fresh_dir("not_regular");
  const std::string fifo = dir + "/a_fifo", sub = dir + "/a_directory";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::filesystem::create_directories(sub);
  for (const std::string& path : {fifo, sub}) {
    EXPECT_ERROR_CONTAINS(write_file_atomic(path, "new"),
                          path + ": exists and is not a regular file");
  }
  EXPECT_TRUE(std::filesystem::is_fifo(fifo));
  EXPECT_TRUE(std::filesystem::is_directory(sub));
  EXPECT_EQ(list_dir(dir), (std::vector<std::string>{"a_directory", "a_fifo"}));
  // A regular file, and a link to one, are replaced as before.
  write_file_atomic(dir + "/file", "old");
  std::filesystem::create_symlink("file", dir + "/link");
  write_file_atomic(dir + "/link", "new");
  write_file_atomic(dir + "/file", "newer");
  EXPECT_EQ(read_text(dir + "/file"), "newer");
  EXPECT_EQ(read_text(dir + "/link"), "new");
}

TEST(AtomicFile, StaleTemporariesOfDeadProcessesAreRemoved) {
  const std::string dir = fresh_dir("stale");
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  const std::string alive = std::to_string(getpid()), gone = std::to_string(dead);
  for (const std::string& name :
       {"checkpoint.json.tmp." + gone + ".0", "chart.png.tmp." + gone + ".12",
        "metrics.jsonl.tmp." + alive + ".3", std::string("notes.tmp.txt"), "w.json.tmp." + gone,
        "w.json.tmp." + gone + ".x", std::string("weights.json")})
    write_text(dir + "/" + name, "x");
  EXPECT_EQ(remove_stale_temporaries(dir), 2);
  EXPECT_EQ(list_dir(dir), (std::vector<std::string>{"metrics.jsonl.tmp." + alive + ".3",
                                                     "notes.tmp.txt", "w.json.tmp." + gone,
                                                     "w.json.tmp." + gone + ".x", "weights.json"}));
  EXPECT_EQ(remove_stale_temporaries(dir + "/absent"), 0);
}

// flock(2) locks belong to an open file, so a second lock of one directory conflicts within one
// process as it does between two.
TEST(DirectoryLock, OneHolderAtATimeAndReleasedWhenDropped) {
  const std::string dir = fresh_dir("lock");
  {
    const DirectoryLock held(dir, "run directory " + dir);
    EXPECT_ERROR_CONTAINS(DirectoryLock(dir, "run directory " + dir),
                          "run directory " + dir + " is in use by another process");
    // Another process: a child that tries the lock and reports.
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      try {
        DirectoryLock again(dir, "x");
      } catch (const Error&) {
        _exit(0);
      }
      _exit(1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child got the lock";
  }
  const DirectoryLock after(dir, "run directory " + dir);
  EXPECT_ERROR_CONTAINS(DirectoryLock(dir + "/absent", "run directory " + dir + "/absent"),
                        "run directory " + dir + "/absent: cannot open it to lock it: ");
}

}  // namespace
}  // namespace repflow
