#!/usr/bin/env bash
# Builds and runs the native kernel tests (native/tests) for this machine: every ISA the CPU runs against the
# scalar oracle. With --sanitize, a second build under AddressSanitizer + UBSan runs them again.
# Prints the test binary's "N passed, N failed" line(s); exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-2}
status=0

run_build() {
  local dir=$1; shift
  cmake -S . -B "$dir" -DFFFBERT_ADDON=OFF -DFFFBERT_TESTS=ON "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1 || { tail -50 "$dir.build.log"; return 1; }
  "$dir/fffbert_native_tests"
}

mkdir -p build
echo "== native tests ($(uname -m))"
run_build build/native-tests -DCMAKE_BUILD_TYPE=Release || status=1
if [[ "${1:-}" == "--sanitize" ]]; then
  echo "== native tests under AddressSanitizer + UBSan"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_build build/native-tests-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFFFBERT_SANITIZE=ON || status=1
fi
exit $status
