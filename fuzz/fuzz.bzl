"""repflow_fuzzer: one libFuzzer harness as three targets.

- NAME_bin: the harness binary. With --config=fuzz it links libFuzzer (clang, ASan + UBSan);
  otherwise it links fuzz/replay_main.cc, which runs the harness once on each input given.
- NAME: `bazel run --config=fuzz //fuzz:NAME -- [libFuzzer flags]` fuzzes from the seeds and
  the regression inputs, keeping the corpus in fuzz/corpus/NAME and findings in fuzz/findings.
- NAME_test: runs the seeds and fuzz/regressions/NAME/* through the harness; with --config=fuzz
  it then fuzzes for REPFLOW_FUZZ_SECONDS (default 20) seconds.
"""

load("@rules_cc//cc:defs.bzl", "cc_binary")

def _seeds_impl(ctx):
    outs = [ctx.actions.declare_file("seeds/%s/%s" % (ctx.attr.harness, s)) for s in ctx.attr.names]
    ctx.actions.run(
        executable = ctx.executable.tool,
        arguments = [o.path for o in outs],
        outputs = outs,
        # The tool may run under AddressSanitizer (--config=fuzz); leaks of a short-lived
        # generator are not findings.
        env = {"ASAN_OPTIONS": "detect_leaks=0"},
        mnemonic = "FuzzSeeds",
        progress_message = "seeds of //fuzz:%s" % ctx.attr.harness,
    )
    return [DefaultInfo(files = depset(outs), runfiles = ctx.runfiles(files = outs))]

# Seed files written by fuzz/make_seeds, built for the target configuration (a genrule's tool
# would be built a second time, with the host configuration, along with everything it links).
_seeds = rule(
    implementation = _seeds_impl,
    attrs = {
        "harness": attr.string(),
        "names": attr.string_list(),
        "tool": attr.label(executable = True, cfg = "target", default = ":make_seeds"),
    },
)

def repflow_fuzzer(name, deps, seeds):
    cc_binary(
        name = name + "_bin",
        srcs = [name + "_fuzz.cc"],
        linkopts = select({
            ":libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        deps = deps + [":fuzz_input"] + select({
            ":libfuzzer": [],
            "//conditions:default": [":replay_main"],
        }),
    )
    _seeds(
        name = name + "_seeds",
        harness = name,
        names = seeds,
    )
    regressions = native.glob(["regressions/%s/*" % name])
    data = [":" + name + "_bin", ":" + name + "_seeds"] + regressions
    args = ["$(location :%s_bin)" % name, name, "$(locations :%s_seeds)" % name] + [
        "$(location %s)" % r
        for r in regressions
    ]
    native.sh_binary(
        name = name,
        srcs = ["run_fuzzer.sh"],
        args = ["run"] + args,
        data = data,
    )
    native.sh_test(
        name = name + "_test",
        size = "medium",
        srcs = ["run_fuzzer.sh"],
        args = ["test"] + args,
        data = data,
    )
