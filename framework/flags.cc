#include "framework/flags.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <new>

#include "framework/error.h"
#include "framework/parallel.h"

namespace repflow {

Flags::Flags(std::string program, std::string description)
    : program_(std::move(program)), description_(std::move(description)) {
  add("help", "false", "print this help and exit");
}

void Flags::add(const std::string& name, const std::string& default_value,
                const std::string& help) {
  flags_[name] = Flag{default_value, default_value, help, false};
  order_.push_back(name);
}

bool Flags::parse(int argc, char** argv, bool allow_positional) {
  std::string bare_boolean;  // the flag before this argument, when a boolean given bare
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      // `--legend ''` reads as a bare --legend and a stray word: the message names the flag.
      RF_CHECK(allow_positional, program_, ": unexpected argument '", excerpt(arg), "'",
               bare_boolean.empty() ? std::string()
                                    : " after --" + bare_boolean +
                                          ", a boolean flag (true or false, or bare for true)",
               " (see --help)");
      positional_.push_back(arg);
      bare_boolean.clear();
      continue;
    }
    bare_boolean.clear();
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    const bool has_value = eq != std::string::npos;
    if (has_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto it = flags_.find(name);
    RF_CHECK(it != flags_.end(), program_, ": unknown flag --", excerpt(name), " (see --help)");
    const bool is_bool = it->second.default_value == "true" || it->second.default_value == "false";
    if (!has_value) {
      if (is_bool) {
        // A bare boolean flag is true; `--quiet false` reads the value that follows it.
        const bool next_is_value = i + 1 < argc && (std::string(argv[i + 1]) == "true" ||
                                                    std::string(argv[i + 1]) == "false");
        value = next_is_value ? argv[++i] : "true";
        if (!next_is_value) bare_boolean = name;
      } else {
        RF_CHECK(i + 1 < argc, program_, ": flag --", excerpt(name), " needs a value");
        value = argv[++i];
      }
    }
    it->second.value = value;
    it->second.given = true;
    if (is_bool) boolean(name);  // validates now, naming the flag
  }
  if (boolean("help")) {
    std::cout << usage();
    return false;
  }
  return true;
}

std::optional<std::string> Flags::peek(int argc, char** argv, const std::string& name) {
  std::optional<std::string> value;
  const std::string bare = "--" + name, with_value = bare + "=";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind(with_value, 0) == 0) {
      value = arg.substr(with_value.size());
    } else if (arg == bare && i + 1 < argc) {
      value = argv[++i];
    }
  }
  return value;
}

const Flags::Flag& Flags::flag(const std::string& name) const {
  auto it = flags_.find(name);
  RF_CHECK(it != flags_.end(), program_, ": no flag --", name, " was declared");
  return it->second;
}

namespace {
// strtoll and strtod skip leading white space, and strtod reads hexadecimal ("0x10" is 16),
// "inf" and "nan": none of them is a value any flag means.
bool only_number_characters(const std::string& text, const char* allowed) {
  return text.find_first_not_of(allowed) == std::string::npos;
}
}  // namespace

std::string Flags::str(const std::string& name) const { return flag(name).value; }

int64_t Flags::integer(const std::string& name) const {
  const std::string& v = flag(name).value;
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  RF_CHECK(!v.empty() && *end == '\0' && only_number_characters(v, "+-0123456789"), program_,
           ": flag --", name, ": '", excerpt(v), "' is not an integer");
  // strtoll saturates on overflow: the value would silently become another.
  RF_CHECK(errno != ERANGE, program_, ": flag --", name, ": '", excerpt(v),
           "' is outside the 64-bit integers");
  return n;
}

int64_t Flags::integer_in(const std::string& name, int64_t lo, int64_t hi) const {
  const int64_t v = integer(name);
  RF_CHECK(v >= lo && v <= hi, program_, ": flag --", name, ": ", v, " is outside ", lo, "..", hi);
  return v;
}

double Flags::number(const std::string& name) const {
  const std::string& v = flag(name).value;
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  RF_CHECK(!v.empty() && *end == '\0' && only_number_characters(v, "+-.eE0123456789"), program_,
           ": flag --", name, ": '", excerpt(v), "' is not a number");
  // No flag means anything by an infinite or undefined value; left through, they turn into
  // overflowing conversions and non-finite losses far from the flag.
  RF_CHECK(std::isfinite(x), program_, ": flag --", name, ": '", excerpt(v),
           "' is not a finite number");
  return x;
}

double Flags::number_in(const std::string& name, double lo, double hi) const {
  const double v = number(name);
  RF_CHECK(v >= lo && v <= hi, program_, ": flag --", name, ": ", v, " is outside ", lo, "..", hi);
  return v;
}

bool Flags::boolean(const std::string& name) const {
  const std::string& v = flag(name).value;
  RF_CHECK(v == "true" || v == "false", program_, ": flag --", name, ": '", excerpt(v),
           "' is not true or false");
  return v == "true";
}

bool Flags::given(const std::string& name) const { return flag(name).given; }

void Flags::refuse_given(const std::vector<std::string>& names, const std::string& why,
                         const std::string& context) const {
  for (const std::string& name : names)
    RF_CHECK(!given(name), context.empty() ? "" : context + ": ", "flag --", name, " ", why);
}

std::vector<std::pair<std::string, std::string>> Flags::values() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& name : order_)
    if (name != "help") out.emplace_back(name, flags_.at(name).value);
  return out;
}

void Flags::set(const std::string& name, const std::string& value) {
  auto it = flags_.find(name);
  RF_CHECK(it != flags_.end(), program_, ": unknown flag --", name);
  it->second.value = value;
}

void Flags::set_default(const std::string& name, const std::string& value) {
  auto it = flags_.find(name);
  RF_CHECK(it != flags_.end(), program_, ": unknown flag --", name);
  it->second.default_value = value;
  if (!it->second.given) it->second.value = value;
}

std::string Flags::usage() const {
  std::string s = "usage: " + program_ + " [flags]\n" + description_ + "\n\nflags:\n";
  for (const std::string& name : order_) {
    const Flag& f = flags_.at(name);
    s += "  --" + name + " (default: " + (f.default_value.empty() ? "\"\"" : f.default_value) +
         ")\n      " + f.help + "\n";
  }
  return s;
}

SplitCommandLine split_at_double_dash(int argc, char** argv) {
  int own = argc;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--") {
      own = i;
      break;
    }
  return {own, std::vector<std::string>(argv + std::min(own + 1, argc), argv + argc)};
}

bool names_flag(const std::string& word, const std::string& name) {
  const std::string bare = "--" + name;
  return word == bare || word.rfind(bare + "=", 0) == 0;
}

void refuse_passed_on(const std::string& program, const std::vector<std::string>& passed_on,
                      const std::vector<RefusedFlag>& refused) {
  for (const std::string& word : passed_on)
    for (const auto& [name, why] : refused)
      RF_CHECK(!names_flag(word, name), program, ": trainer flag --", name,
               " cannot be given after `--` (", why, ")");
}

void add_threads_flag(Flags& flags, const std::string& help) {
  flags.add("threads", "0", help + " (0: one per core)");
}

void apply_threads_flag(const Flags& flags) {
  const int64_t n = flags.integer("threads");
  RF_CHECK(n >= 0 && n <= 1024, "flag --threads: ", n, " is not a thread count between 0 and 1024");
  if (n > 0) set_num_threads(static_cast<int>(n));
}

void add_precision_flag(Flags& flags) {
  flags.add("precision", "fp32",
            "the convolutions' arithmetic: fp32, bf16 (GPUs, and CPUs with AVX512-BF16 or AMX; "
            "other CPUs fp32, with a note) or tf32 (GPUs); batch norm, the flow layer, the loss "
            "and the weights stay fp32");
}

Precision precision_from_flag(const Flags& flags, const Device& device, bool say) {
  std::string note;
  const Precision p = precision_for(parse_precision(flags.str("precision")), device, &note);
  if (say && !note.empty()) std::cout << "note: " << note << std::endl;
  return p;
}

std::string user_path(const std::string& path) {
  const char* dir = std::getenv("BUILD_WORKING_DIRECTORY");
  if (path.empty() || path[0] == '/' || !dir || !*dir) return path;
  return std::string(dir) + "/" + path;
}

namespace {
// The line in one write: the processes of a distributed job share a terminal, and their lines
// written piecewise interleave ("error: error: ...").
void print_error(const std::string& message) {
  std::cout.flush();
  const std::string line = "error: " + message + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}
}  // namespace

int run_main(const std::function<int()>& body) {
  try {
    return body();
  } catch (const Error& e) {
    print_error(e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    // Sizes are bounded where they are read, but the bounds are generous: a large model or
    // batch the machine cannot hold is still the user's input, not a bug.
    print_error("out of memory (a model, batch or clip size too large for this machine?)");
    return 2;
  } catch (const std::exception& e) {
    print_error(e.what());
    return 1;
  }
}

}  // namespace repflow
