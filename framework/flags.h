#pragma once
// Command-line flags for every binary: --name=value or --name value, --help listing every flag
// with its default, and errors that name the flag.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "framework/device.h"
#include "framework/precision.h"

namespace repflow {

class Flags {
 public:
  Flags(std::string program, std::string description);
  // Declares --name with a default (as text) and a help line. Boolean flags take "true"/"false"
  // (--quiet=false or --quiet false) and may be given bare (--quiet).
  void add(const std::string& name, const std::string& default_value, const std::string& help);
  // Parses argv; returns false when --help was printed. Unknown flags, missing values and
  // positional arguments (unless allowed) are Errors.
  bool parse(int argc, char** argv, bool allow_positional = false);

  std::string str(const std::string& name) const;
  // An integer within 64 bits.
  int64_t integer(const std::string& name) const;
  // integer() that must lie in [lo, hi]; otherwise an Error naming the flag and the range.
  int64_t integer_in(const std::string& name, int64_t lo, int64_t hi) const;
  // A finite number.
  double number(const std::string& name) const;
  // number() that must lie in [lo, hi]; otherwise an Error naming the flag and the range.
  double number_in(const std::string& name, double lo, double hi) const;
  bool boolean(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  std::string usage() const;

  // The value of the last --name=value or --name value in argv, before any flag is declared:
  // what a binary needs to declare its other flags (a model's own defaults). Parse still checks
  // the command line as a whole.
  static std::optional<std::string> peek(int argc, char** argv, const std::string& name);

  // Whether the command line set --name (a run resumed from a saved configuration keeps the
  // saved values except those the user gives again).
  bool given(const std::string& name) const;
  // An Error naming the first of `names` the command line set: flags that do not apply to the
  // rest of the command line would otherwise be ignored, unchecked. The message reads
  // "[context: ]flag --NAME why".
  void refuse_given(const std::vector<std::string>& names, const std::string& why,
                    const std::string& context = "") const;
  // Every declared flag but --help with its current value, in declaration order: what a run
  // saves as its configuration.
  std::vector<std::pair<std::string, std::string>> values() const;
  // Changes a declared flag's default (and its value, unless given): a binary adopting flags
  // declared by a library with defaults of its own. An undeclared name is an Error.
  void set_default(const std::string& name, const std::string& value);
  // Sets a declared flag as if parsed, without marking it given; an undeclared name is an Error.
  void set(const std::string& name, const std::string& value);

 private:
  struct Flag {
    std::string value, default_value, help;
    bool given = false;
  };
  const Flag& flag(const std::string& name) const;
  std::string program_, description_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_, positional_;
};

// A wrapper's command line, `wrapper [its own flags] -- [flags it passes on]`: the number of
// argv words that are its own (argc when there is no "--") and the words after "--".
struct SplitCommandLine {
  int own_argc;
  std::vector<std::string> passed_on;
};
SplitCommandLine split_at_double_dash(int argc, char** argv);
// Whether a command-line word sets --name (as "--name" or "--name=VALUE"): what a wrapper
// checks in the flags it passes on.
bool names_flag(const std::string& word, const std::string& name);
// Upper bound for counts given as flags (epochs, batch sizes, workers): far above any real use,
// and within int.
constexpr int64_t kMaxFlagCount = 1000000000;

// A flag that a wrapper cannot pass on, and why (what the user should do instead).
struct RefusedFlag {
  const char* name;
  const char* why;
};
// An Error "PROGRAM: trainer flag --NAME cannot be given after `--` (WHY)" for the first word of
// `passed_on` that sets a flag of `refused`.
void refuse_passed_on(const std::string& program, const std::vector<std::string>& passed_on,
                      const std::vector<RefusedFlag>& refused);

// --threads: declared with `help` and default 0 (one thread per core); applying it sets the CPU
// threads (set_num_threads), and a value outside 0..1024 is an Error naming the flag.
void add_threads_flag(Flags& flags, const std::string& help);
void apply_threads_flag(const Flags& flags);

// --precision fp32|bf16|tf32 (framework/precision.h), default fp32. precision_from_flag gives
// the precision as it runs on `device` (precision_for), printing its note on stdout when `say`;
// a bad value is an Error naming the flag.
void add_precision_flag(Flags& flags);
Precision precision_from_flag(const Flags& flags, const Device& device, bool say);

// A path the user typed: under `bazel run` the binary starts in its runfiles, so a relative path
// is taken from the directory the user ran bazel in (BUILD_WORKING_DIRECTORY).
std::string user_path(const std::string& path);

// Runs a binary's body: a repflow::Error (bad input or usage) or running out of memory is
// printed as "error: ..." and gives exit code 2, as the project's conventions say; other
// exceptions (a bug: library failures are turned into Errors where they happen) give 1.
int run_main(const std::function<int()>& body);

}  // namespace repflow
