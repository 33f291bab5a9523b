#!/usr/bin/env bash
# Packs what tools/gpu_check.sh runs on a lent GPU machine (which has CUDA, cuDNN and PyTorch but
# no Bazel and no Debian -dev libraries) into one archive: the gpu tests, bench_model and
# bench_flow, their Bazel-built shared libraries, the Debian libraries they load, and the
# benchmarks' Python sides. (The trainer is left out: FFmpeg and its codecs would double the
# archive, past what the device tool carries.) Run from the project root on the build machine, with nvcc present so
# that the CUDA backend is compiled in:
#
#   tools/gpu_pack.sh [OUT]            # OUT defaults to gpu/bundle.tgz (keep gpu/ out of git)
set -euo pipefail
out=${1:-gpu/bundle.tgz}
bazel build //tests/... //tools:bench_model //tools:bench_flow >&2
work=$(mktemp -d)
b=$work/bundle
mkdir -p "$b/tests" "$b/tools" "$b/syslib"
cp -L bazel-bin/tests/*_gpu_test "$b/tests/"
cp -L bazel-bin/tools/bench_model bazel-bin/tools/bench_flow "$b/tools/"
cp tools/bench_model_torch.py tools/bench_flow_torch.py tools/gpu_check.sh "$b/tools/"
cp -rL bazel-bin/_solib_k8 "$b/"
chmod -R u+w "$b"
# The Debian libraries the binaries load, except the C and C++ runtimes every machine has.
for f in $(ldd "$b"/tests/* "$b"/tools/bench_model "$b"/tools/bench_flow |
  awk '/=> \/(usr\/)?lib/ {print $3}' | sort -u); do
  case $(basename "$f") in
    libc.so* | libm.so* | libdl.so* | librt.so* | libpthread.so* | libstdc++* | libgcc_s*) ;;
    *) cp -L "$f" "$b/syslib/" ;;
  esac
done
# CUPTI (bench_model --kernel-times) comes from the build's toolkit, whose layout the GPU
# machine's need not share; it is carried, so the records match the headers it was built with.
for f in $(ldd "$b"/tools/bench_model | awk '/libcupti/ {print $3}'); do
  cp -L "$f" "$b/syslib/"
done
strip --strip-unneeded "$b"/tests/* "$b"/tools/bench_model "$b"/tools/bench_flow \
  "$b"/_solib_k8/*.so
mkdir -p "$(dirname "$out")"
tar -C "$work" -czf "$out" bundle
rm -rf "$work"
# The device tool carries at most 64 MiB; a gpu test that links more (FFmpeg's codecs through
# //training, say) would make the check impossible to run.
bytes=$(stat -c %s "$out")
if [ "$bytes" -gt $((60 * 1024 * 1024)) ]; then
  echo "error: gpu_pack: $out is $((bytes / 1024 / 1024)) MiB, over the 60 MiB kept under the device tool's 64 MiB (see which libraries bundle/syslib holds)" >&2
  exit 1
fi
echo "gpu_pack: $out, $(du -h "$out" | cut -f1)"
