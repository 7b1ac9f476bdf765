#!/usr/bin/env bash
# Builds and runs the native kernel tests (native/tests) for this machine: every ISA the CPU runs against the
# scalar oracle. With --sanitize, a second build under AddressSanitizer + UBSan runs them again; with --tsan, a
# ThreadSanitizer build runs the pool tests and the multi-threaded kernel tests (the tests whose names match
# a word of TSAN_TESTS, default "pool thread"; TSan costs ~10x). The flags combine.
# Warnings are errors here (FFFBERT_WERROR), as in every CI build; users' source builds keep them warnings.
# Prints the test binary's "N passed, N failed" line(s); exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-2}
status=0

sanitize=0
tsan=0
for arg in "$@"; do
  case $arg in
    --sanitize) sanitize=1 ;;
    --tsan) tsan=1 ;;
    *) echo "usage: $0 [--sanitize] [--tsan]"; exit 2 ;;
  esac
done

# run_build DIR [cmake args...] [-- test filter]
run_build() {
  local dir=$1; shift
  local args=() filter=()
  while (($#)); do
    if [[ $1 == -- ]]; then shift; filter=("$@"); break; fi
    args+=("$1"); shift
  done
  cmake -S . -B "$dir" -DFFFBERT_ADDON=OFF -DFFFBERT_TESTS=ON -DFFFBERT_WERROR=ON "${args[@]}" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1 || { tail -50 "$dir.build.log"; return 1; }
  "$dir/fffbert_native_tests" "${filter[@]}"
}

mkdir -p build
echo "== native tests ($(uname -m))"
run_build build/native-tests -DCMAKE_BUILD_TYPE=Release || status=1
if ((sanitize)); then
  echo "== native tests under AddressSanitizer + UBSan"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_build build/native-tests-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFFFBERT_SANITIZE=ON || status=1
fi
if ((tsan)); then
  echo "== native tests under ThreadSanitizer (${TSAN_TESTS:=pool thread})"
  # halt_on_error: the first race fails the run (exit 66), its report above the result line.
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    run_build build/native-tests-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFFFBERT_TSAN=ON -- $TSAN_TESTS || status=1
fi
exit $status
