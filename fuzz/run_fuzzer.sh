#!/usr/bin/env bash
# run_fuzzer.sh run|test BINARY NAME INPUT... [--] [LIBFUZZER_FLAGS...]
# First replays every input (the seeds and fuzz/regressions/NAME/*) through the harness, then,
# when the harness is built with libFuzzer (--config=fuzz), fuzzes from the seeds. Under
# `bazel run` the corpus is fuzz/corpus/NAME in the workspace (kept between runs) and findings go
# to fuzz/findings/; under `bazel test` both live in the test's directories and fuzzing lasts
# REPFLOW_FUZZ_SECONDS (default 20) seconds, from a fixed seed.
set -euo pipefail
mode=$1 binary=$2 name=$3
shift 3
seeds=() regressions=()
# Inputs are Bazel paths, which never start with "-": the first argument that does is a
# libFuzzer flag (`bazel run //fuzz:NAME -- -runs=N` appends them after the inputs).
while [ $# -gt 0 ]; do
  case $1 in
    --) shift; break ;;
    -*) break ;;
    */regressions/*) regressions+=("$1") ;;
    *) seeds+=("$1") ;;
  esac
  shift
done

"$binary" -runs=0 "${seeds[@]}" "${regressions[@]}"
help=$("$binary" -help=1 2>&1 || true)
case $help in
  *Usage:*) ;;    # libFuzzer
  *) exit 0 ;;    # the replaying build: done
esac

# Limits of the fuzzing goal: 256 MB for one allocation, 10 s for one input.
flags=(-malloc_limit_mb=256 -rss_limit_mb=2560 -timeout=10 -print_final_stats=1)
if [ "$mode" = run ]; then
  root=${BUILD_WORKSPACE_DIRECTORY:?run it with bazel run}/fuzz
  corpus=$root/corpus/$name
  mkdir -p "$root/findings"
  flags+=(-artifact_prefix="$root/findings/$name-")
else
  corpus=$TEST_TMPDIR/corpus
  # A fixed seed: a test run mutates the same way every time, so that what it finds is found
  # again by the same command (long runs under `bazel run` draw a new seed each time).
  flags+=(-seed=1 -max_total_time="${REPFLOW_FUZZ_SECONDS:-20}")
  flags+=(-artifact_prefix="${TEST_UNDECLARED_OUTPUTS_DIR:-$TEST_TMPDIR}/")
fi
mkdir -p "$corpus"
cp -f "${seeds[@]}" "$corpus/"
exec "$binary" "${flags[@]}" "$@" "$corpus"
