// //training:experiments: the paper's ablation tables (Tables 1-5) as grids of training runs,
// each cell one run of //training:train in its own run directory, then per table a markdown page
// and a bar chart of the cells' validation top-1. Resumable: finished cells are skipped and an
// interrupted one resumes from its checkpoint, so the same command finishes what is left.
// docs/experiments.md describes the tables, the miniature and the outputs.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "framework/directory_lock.h"
#include "framework/error.h"
#include "framework/flags.h"
#include "framework/text.h"
#include "training/ablations/cell_run.h"
#include "training/ablations/results.h"
#include "training/ablations/tables.h"
#include "training/interrupt.h"

extern char** environ;

namespace repflow {
namespace {

// The miniature's dataset when no --data is given to the trainer: the built-in synthetic
// motion classes in their hard preset, on which an RGB-only network stays at chance and a flow
// network learns part of the way in the miniature's epochs, so that cells can differ.
const std::vector<std::string> kMiniature = {
    "--synthetic-preset", "hard", "--synthetic-train", "1024", "--synthetic-val", "256"};
const char kMiniatureEpochs[] = "8";

// Trainer flags that cannot be given after `--`: the runner sets them for every cell, or they
// would stop a cell from training.
const std::vector<RefusedFlag> kRunnerFlags = {
    {"run-dir", "each cell has its run directory under --out"},
    {"resume", "each cell resumes its own run directory's checkpoint"},
    {"epochs", "give --epochs before `--`"},
    {"quiet", "each cell prints one line per epoch"},
    {"check", "--dry-run checks every cell"},
    {"help", "train --help lists the trainer's flags"},
};

volatile sig_atomic_t g_child = 0;
volatile sig_atomic_t g_stop_signal = 0;

// Ctrl-C and kill reach this process; the trainer, in a process group of its own, gets the
// signal once from here, saves its checkpoint and stops. A hang-up (the terminal closed) reaches
// it as SIGTERM, which it saves on, where a SIGHUP of its own would end it unsaved. No further
// trainer starts after a signal, also when none ran as it came or the one running had just
// finished.
void forward_signal(int sig) {
  g_stop_signal = sig;
  if (g_child > 0) ::kill(g_child, sig == SIGHUP ? SIGTERM : sig);
}

// The exit status of a command stopped by g_stop_signal: the trainer's for the signal it got.
int stopped_status() { return 128 + (g_stop_signal == SIGHUP ? SIGTERM : g_stop_signal); }

// Whether a trainer's exit status says an interrupt or a kill stopped it (after saving), not an
// error: the command then stops too, with the same status.
bool stopped_by_signal(int code) { return code == 128 + SIGINT || code == 128 + SIGTERM; }

// The signals forward_signal handles, blocked while a trainer starts, so that one arriving then
// is forwarded to it or stops the next start, never lost in between.
class StartSignalsBlocked {
 public:
  StartSignalsBlocked() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
    ::sigprocmask(SIG_BLOCK, &set, &previous_);
  }
  ~StartSignalsBlocked() { ::sigprocmask(SIG_SETMASK, &previous_, nullptr); }
  const sigset_t& previous() const { return previous_; }

 private:
  sigset_t previous_;
};

// Runs the trainer and returns its exit status (128 + N when it ended on signal N, or when
// signal N came before it could start).
int run_trainer(const std::string& train, const std::vector<std::string>& args) {
  std::vector<std::string> argv_strings{train};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  // This process's environment, and its pid for the trainer to stop with (stop_with_parent).
  std::vector<std::string> env_strings;
  const std::string stop_prefix = std::string(kStopWithParentVariable) + "=";
  for (char** e = environ; *e != nullptr; ++e)
    if (std::string(*e).rfind(stop_prefix, 0) != 0) env_strings.emplace_back(*e);
  env_strings.push_back(stop_prefix + std::to_string(::getpid()));
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  {
    const StartSignalsBlocked blocked;
    if (g_stop_signal) return stopped_status();
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &blocked.previous());
    const int r = posix_spawn(&pid, train.c_str(), nullptr, &attr, argv.data(), envp.data());
    posix_spawnattr_destroy(&attr);
    RF_CHECK(r == 0, "experiments: cannot start the trainer ", train, ": ", std::strerror(r));
    g_child = pid;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    RF_CHECK(errno == EINTR, "experiments: waiting for the trainer: ", std::strerror(errno));
  }
  g_child = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string default_trainer() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  RF_CHECK(!ec, "experiments: cannot find this program's own path: ", ec.message(),
           " (give --train)");
  return (self.parent_path() / "train").string();
}

int run(int argc, char** argv) {
  // Arguments after "--" are the trainer's.
  const SplitCommandLine split = split_at_double_dash(argc, argv);
  std::vector<std::string> common = split.passed_on;
  Flags flags("experiments",
              "Runs the paper's ablation tables as grids of training runs and writes each "
              "table's results:\n  experiments --table 1|2|3|4|5|all --out DIR [flags] [-- "
              "TRAINER FLAGS]\nEach cell is one //training:train run in DIR/table<N>/<cell> "
              "with the trainer flags after\n`--` (dataset, model, recipe) and the cell's own; "
              "without --data the miniature's synthetic\ndata (" +
                  join(kMiniature, " ") + ", --epochs " + kMiniatureEpochs +
                  ") is used. Then DIR/table<N>.md and DIR/table<N>.png.\nFinished cells are "
                  "skipped and an interrupted one resumes: the same command finishes the rest.");
  flags.add("table", "all", "tables to run: all, or a comma list of 1 to 5");
  flags.add("out", "", "directory of the runs and the results (required)");
  flags.add("epochs", kMiniatureEpochs, "epochs of every cell's run");
  flags.add("train", "", "the trainer binary (default: train beside this program)");
  flags.add("dry-run", "false",
            "print each cell's state and trainer command and have the trainer check its flags "
            "(train --check), training and writing nothing");
  if (!flags.parse(split.own_argc, argv)) return 0;
  RF_CHECK(!flags.str("out").empty(), "experiments: flag --out is required");
  const std::vector<int> tables = parse_table_list(flags.str("table"));
  const int64_t epochs = flags.integer_in("epochs", 1, kMaxFlagCount);
  const std::string out = std::filesystem::absolute(user_path(flags.str("out"))).lexically_normal();
  const std::string train =
      flags.str("train").empty() ? default_trainer() : user_path(flags.str("train"));
  const bool dry_run = flags.boolean("dry-run");
  refuse_passed_on("experiments", common, kRunnerFlags);
  const bool has_data = std::any_of(common.begin(), common.end(),
                                    [](const std::string& a) { return names_flag(a, "data"); });
  if (!has_data) {
    // The miniature's sizes, each unless given.
    for (size_t i = 0; i + 1 < kMiniature.size(); i += 2) {
      const bool given = std::any_of(common.begin(), common.end(), [&](const std::string& a) {
        return names_flag(a, kMiniature[i].substr(2));
      });
      if (!given) common.insert(common.begin(), {kMiniature[i], kMiniature[i + 1]});
    }
  }
  // A flag that a table varies from cell to cell would be overridden by each cell's own value.
  for (int number : tables)
    for (const ExperimentCell& cell : experiment_tables()[number - 1].cells)
      for (const std::string& cell_flag : cell.flags) {
        if (cell_flag.rfind("--", 0) != 0) continue;
        const std::string name = cell_flag.substr(0, cell_flag.find('=')).substr(2);
        for (const std::string& a : common)
          RF_CHECK(!names_flag(a, name), "experiments: trainer flag --", name, " is what table ",
                   number, " varies from cell to cell (cell ", cell.id,
                   " sets it), so it cannot be given for every cell");
      }
  std::optional<DirectoryLock> lock;  // one experiments process per --out
  const std::string out_what = "experiments: flag --out " + out;
  if (dry_run) {
    check_directory_can_be_made(out, out_what);
  } else {
    make_directory(out, out_what);
    lock.emplace(out, out_what);
  }

  struct sigaction forward {};
  forward.sa_handler = forward_signal;
  sigemptyset(&forward.sa_mask);
  ::sigaction(SIGINT, &forward, nullptr);
  ::sigaction(SIGTERM, &forward, nullptr);
  ::sigaction(SIGHUP, &forward, nullptr);

  std::vector<std::string> refused;  // with --dry-run, the cells whose flags the trainer refused
  for (int number : tables) {
    const ExperimentTable& table = experiment_tables()[number - 1];
    std::vector<CellStatus> status(table.cells.size());
    std::printf("%s\n", table.title.c_str());
    for (size_t i = 0; i < table.cells.size(); ++i) {
      if (g_stop_signal && !dry_run) {
        std::printf("interrupted: run the same command again to resume\n");
        return stopped_status();
      }
      const ExperimentCell& cell = table.cells[i];
      const std::string where = "  [" + std::to_string(i + 1) + "/" +
                                std::to_string(table.cells.size()) + "] " + cell.id + ": ";
      const std::string dir = out + "/table" + std::to_string(number) + "/" + cell.id;
      status[i] = read_cell_status(dir, epochs);
      if (status[i].state == CellStatus::State::kDone) {
        std::printf("%sdone, val top-1 %.2f%%\n", where.c_str(), status[i].val_top1);
        continue;
      }
      const std::vector<std::string> args = train_arguments(cell, status[i], dir, epochs, common);
      std::string line = train;
      for (const std::string& a : args) line += " " + a;
      std::printf("%s%s\n    %s\n", where.c_str(),
                  status[i].state == CellStatus::State::kFresh
                      ? "starting"
                      : ("resuming after epoch " + std::to_string(status[i].epochs_done)).c_str(),
                  line.c_str());
      std::fflush(stdout);
      if (dry_run) {
        // What would otherwise stop the command at this cell, hours into the grid.
        std::vector<std::string> check = args;
        check.push_back("--check");
        const int code = run_trainer(train, check);
        if (stopped_by_signal(code)) return code;
        if (code != 0) refused.push_back("table " + std::to_string(number) + " cell " + cell.id);
        continue;
      }
      const int code = run_trainer(train, args);
      if (stopped_by_signal(code)) {
        std::printf("interrupted: run the same command again to resume\n");
        return code;
      }
      RF_CHECK(code == 0, "experiments: table ", number, " cell ", cell.id,
               ": the trainer exited with status ", code,
               " (its messages are above); run "
               "directory ",
               dir);
      status[i] = read_cell_status(dir, epochs);
      RF_CHECK(status[i].state == CellStatus::State::kDone, "experiments: table ", number, " cell ",
               cell.id, ": the trainer ended without ", epochs, " epochs in ", dir);
      std::printf("%sval top-1 %.2f%%\n", where.c_str(), status[i].val_top1);
    }
    if (dry_run) continue;
    write_table_results(out, table, status, epochs, common);
    std::printf("wrote %s and %s\n", table_markdown_path(out, number).c_str(),
                table_chart_path(out, number).c_str());
  }
  RF_CHECK(refused.empty(), "experiments: the trainer refused ", refused.size(),
           " cell(s), its messages above: ", join(refused, ", "));
  return 0;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main([&] { return repflow::run(argc, argv); });
}
