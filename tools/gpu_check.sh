#!/usr/bin/env bash
# The device check, on a lent GPU machine, from a bundle made by tools/gpu_pack.sh: every `gpu`
# test (CUDA against the CPU), compute-sanitizer's memcheck on the fused optimiser and TV-L1
# tests, then bench_model (repflow against PyTorch in fp32, TF32 and bf16 autocast, eager and as
# a CUDA graph; repflow's own tf32 and bf16 on r2plus1d_18; the published code on
# kinetics_repflow_r50) and a short bench_flow, printing their tables (its time on an H100 or
# H200: docs/perf/gpu.md); the logs stay in LOGDIR.
#
#   tools/gpu_check.sh BUNDLE.tgz LOGDIR [python]
#
# REPFLOW_CHECK_DEVICE=cpu runs the tests and bench_model on the CPU at tiny sizes (the script's
# own test, on the build machine).
set -uo pipefail
bundle=$1
log=$2
python=${3:-python3}
device=${REPFLOW_CHECK_DEVICE:-cuda}
mkdir -p "$log"
log=$(cd "$log" && pwd)
dir=$(mktemp -d)
tar -C "$dir" -xzf "$bundle"
cd "$dir/bundle" || exit 2
cudnn=$(find /opt /usr /lib /root -name 'libcudnn.so.9' 2>/dev/null | head -1)
export LD_LIBRARY_PATH=$PWD/_solib_k8:$PWD/syslib:${cudnn:+$(dirname "$cudnn"):}/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export TEST_TMPDIR=$dir/tmp
mkdir -p "$TEST_TMPDIR"
failed=0

echo "== gpu tests"
for t in tests/*_gpu_test; do
  (timeout 300 "$t" --gtest_brief=1 > "$log/$(basename "$t").log" 2>&1
   echo "$? $(basename "$t")" > "$log/$(basename "$t").rc") &
done
wait
for rc in "$log"/*_gpu_test.rc; do
  read -r status name < "$rc"
  echo "$name: $([ "$status" -eq 0 ] && echo passed || echo "FAILED (exit $status)")"
  [ "$status" -eq 0 ] || failed=$((failed + 1))
done

if command -v compute-sanitizer > /dev/null && [ "$device" = cuda ]; then
  echo "== compute-sanitizer memcheck"
  for t in optim_gpu_test tvl1_gpu_test; do
    if timeout 300 compute-sanitizer --tool memcheck --error-exitcode 1 "tests/$t" --gtest_brief=1 \
      > "$log/$t.memcheck.log" 2>&1; then
      echo "$t: clean"
    else
      echo "$t: FAILED (see $t.memcheck.log)"
      failed=$((failed + 1))
    fi
  done
fi

# docs/perf/gpu.md's shape on a GPU (batch 8 x 3 x 16 x 112 x 112); a tiny one for the CPU
# self-test.
if [ "$device" = cuda ]; then
  shape=(--batch 8 --frames 16 --size 112 --steps 10 --warmup 3)
  threads=16
else
  shape=(--batch 2 --frames 4 --size 32 --steps 1 --warmup 0)
  threads=2
fi
# repflow's own mixed precisions on r2plus1d_18 (tf32 is a GPU's only) and cuDNN's timed
# algorithm search on both sides (--conv-algo fastest, torch.backends.cudnn.benchmark), then the
# paper's Kinetics model against the published code and the other models. On a GPU every step is
# also replayed as a CUDA graph and traced: the GPU's busy share and its longest kernels, for
# both frameworks (the tables are in the logs; the busy lines are printed).
graph=""
[ "$device" = cuda ] && graph="--cuda-graph --kernel-times 25"
runs=("r2plus1d_18 $graph" "r2plus1d_18 --precision bf16 --torch false $graph")
[ "$device" = cuda ] && runs+=("r2plus1d_18 --precision tf32 --torch false $graph"
  "r2plus1d_18 --conv-algo fastest $graph")
# The published model needs 11 frames or more; the CPU self-test gives it 16.
kinetics="kinetics_repflow_r50"
[ "$device" = cuda ] || kinetics+=" --batch 1 --frames 16"
runs+=("$kinetics $graph" "resnet18_2p1d --flow after3 $graph" "resnet10_2d_tiny --classes 8 $graph")
for model in "${runs[@]}"; do
  echo "== bench_model $model"
  # The model's words are flags, after the shape's so that they override them.
  # shellcheck disable=SC2086
  if ! timeout 600 tools/bench_model "${shape[@]}" --model $model --device "$device" \
    --threads "$threads" --python "$python" \
    > "$log/bench_model.$(echo $model | tr ' ' '_').txt" 2>&1; then
    echo "bench_model $model: FAILED"
    failed=$((failed + 1))
  fi
  grep -A6 '^impl ' "$log/bench_model.$(echo $model | tr ' ' '_').txt"
  grep 'one training step:' "$log/bench_model.$(echo $model | tr ' ' '_').txt"
done

if [ "$device" = cuda ]; then
  echo "== bench_flow"
  if ! timeout 300 tools/bench_flow --device cuda --python "$python" --repeats 3 \
    --threads "$threads" > "$log/bench_flow.txt" 2>&1; then
    echo "bench_flow: FAILED"
    failed=$((failed + 1))
  fi
  grep -v '^BENCH' "$log/bench_flow.txt" | tail -12
fi

echo "gpu_check: ${failed} step(s) failed"
[ "$failed" -eq 0 ]
