// A command line of the trainer's flags (the input cut at NUL bytes is argv), with --classes as
// infer declares it: the flag parser, then what reads the flags' values: the model's options
// (resolve_model's bounds), the learning-rate schedule, parameter averaging and parameter-group
// rules.
#include <optional>

#include "framework/flags.h"
#include "fuzz/fuzz_input.h"
#include "models/model_flags.h"
#include "training/data/data_flags.h"
#include "training/optim/averaging.h"
#include "training/optim/lr_schedule.h"
#include "training/optim/sgd.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args = repflow::fuzz::split_at_nul(data, size);
  args.insert(args.begin(), "train");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  const int argc = static_cast<int>(argv.size());
  repflow::fuzz::expect_clean([&] {
    const std::string model =
        repflow::Flags::peek(argc, argv.data(), "model").value_or("resnet10_2d_tiny");
    repflow::Flags flags("train", "fuzzed");
    repflow::add_model_flags(flags, model, repflow::model_defaults(model), true);
    repflow::add_data_flags(flags);
    repflow::add_lr_schedule_flags(flags);
    repflow::add_averaging_flags(flags);
    flags.add("param-groups", "flow:0.01", "groups");
    flags.add("epochs", "5", "epochs");
    if (!flags.parse(argc, argv.data())) return;
    (void)repflow::model_spec_from_flags(flags, true);
    (void)repflow::lr_schedule_from_flags(flags, flags.integer_in("epochs", 1, 1000000000));
    (void)repflow::averaging_from_flags(flags);
    (void)repflow::parse_group_rules(flags.str("param-groups"), "param-groups");
  });
  return 0;
}
