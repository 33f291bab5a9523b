#!/usr/bin/env bash
# Installs the Debian packages the build needs, when missing. Safe to run again: it only calls
# apt-get when a package is absent. Nothing is downloaded except through apt.
set -euo pipefail

packages=(bazel-bootstrap bazel-platforms libgtest-dev nlohmann-json3-dev libstb-dev libdnnl-dev
  libopenblas-openmp-dev libopenmpi-dev openmpi-bin
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev
  zlib1g-dev libpng-dev libturbojpeg0-dev
  clang libclang-rt-14-dev)  # clang and its libFuzzer/sanitizer runtimes: --config=fuzz
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
