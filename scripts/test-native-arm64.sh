#!/usr/bin/env bash
# Cross-compiles the native kernel tests for aarch64 (Debian's aarch64-linux-gnu-g++) and runs them under
# qemu-user, so the NEON kernels are compared against the scalar oracle on an x86 machine.
#
# Usage: scripts/test-native-arm64.sh [test-name-filter]
#   BUILD_DIR  build directory (default: build/native-arm64 in the repository)
#   JOBS       parallel compile jobs (default: nproc)
# Installs g++-aarch64-linux-gnu and qemu-user with apt-get when they are missing and we run as root.
# Exits non-zero when the build or any test fails, or when NEON did not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build/native-arm64}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
CXX_CROSS=aarch64-linux-gnu-g++
SYSROOT=/usr/aarch64-linux-gnu

missing=()
command -v "$CXX_CROSS" >/dev/null 2>&1 || missing+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu-user)
if ((${#missing[@]})); then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "missing ${missing[*]}: install them (apt-get install ${missing[*]}) or run as root" >&2
    exit 2
  fi
fi

cmake -S "$ROOT" -B "$BUILD_DIR" \
  -DCMAKE_SYSTEM_NAME=Linux \
  -DCMAKE_SYSTEM_PROCESSOR=aarch64 \
  -DCMAKE_CXX_COMPILER="$CXX_CROSS" \
  -DCMAKE_FIND_ROOT_PATH="$SYSROOT" \
  -DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER \
  -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY \
  -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY \
  -DCMAKE_BUILD_TYPE=Release \
  -DFFFBERT_ADDON=OFF \
  -DFFFBERT_TESTS=ON
cmake --build "$BUILD_DIR" -j "$JOBS" --target fffbert_native_tests

LOG="$BUILD_DIR/test-output.txt"
set +e
qemu-aarch64 -L "$SYSROOT" "$BUILD_DIR/fffbert_native_tests" "$@" 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e

# The binary prints the runnable ISAs first: make sure NEON was really exercised, not silently skipped.
if ! grep -q "supported ISAs:.* neon" "$LOG"; then
  echo "error: neon was not reported as supported under qemu: the NEON kernels did not run" >&2
  exit 1
fi
echo "arm64 (qemu): $(grep -E '^[0-9]+ passed, [0-9]+ failed' "$LOG" | tail -1)"
exit "$status"
