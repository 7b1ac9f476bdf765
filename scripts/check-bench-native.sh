#!/usr/bin/env bash
# The Node-free benchmark tools (bench/native) still build and run, so that a probe or an A/B is at hand when a
# session needs one: each harness is compiled as its header says and run on a small case (linear_dump, which reads
# files, shows its usage), and scripts/ab-native.sh builds the core twice (HEAD and the working tree) and runs both
# in one process for two rounds (and the working tree once more with FFFBERT_PROFILE). openblas_ff.c needs OpenBLAS
# and is left to bench/. One result per tool; ends with "N passed, N failed". Figures printed here are not
# measurements (tiny cases, no warm machine).
#   bash scripts/check-bench-native.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=build/bench-native
mkdir -p "$out"
passed=0
failed=0
lib=build/native-tests/libfffbert_core.a
if [[ ! -f $lib ]]; then
  { cmake -S . -B build/native-tests -DCMAKE_BUILD_TYPE=Release -DFFFBERT_ADDON=OFF -DFFFBERT_TESTS=ON &&
    cmake --build build/native-tests -j2 --target fffbert_core; } >"$out/core.log" 2>&1 ||
    { tail -30 "$out/core.log"; echo "0 passed, 1 failed"; exit 1; }
fi

# check NAME PATTERN FUNCTION: passes when FUNCTION succeeds and its output matches PATTERN.
check() {
  local name=$1 pattern=$2 fn=$3
  if "$fn" >"$out/$name.log" 2>&1 && grep -qE "$pattern" "$out/$name.log"; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    tail -20 "$out/$name.log"
    failed=$((failed + 1))
  fi
}
cxx() { g++ -O2 -std=c++17 -Inative/include -Inative/src -Ibench/native "$@"; }

fff_stream() { cxx bench/native/fff_stream.cpp "$lib" -lpthread -o "$out/fff_stream" && "$out/fff_stream" f32 16 1 all stream 1; }
fff_one_token() { cxx bench/native/fff_one_token.cpp "$lib" -lpthread -o "$out/fff_one_token" && "$out/fff_one_token" f32 64 1 64; }
one_token_bound() { cxx bench/native/one_token_bound.cpp -o "$out/one_token_bound" && "$out/one_token_bound" 1; }
row_read() { cxx bench/native/row_read.cpp -lpthread -o "$out/row_read" && "$out/row_read" 8 1 3072; }
core_rate() { cxx bench/native/core_rate.cpp -lpthread -o "$out/core_rate" && "$out/core_rate" 50 0 1; }
dot_rate() { cxx bench/native/dot_rate.cpp "$lib" -lpthread -o "$out/dot_rate" && "$out/dot_rate" 1 4 64; }
encoder_dtype() { cxx bench/native/encoder_dtype.cpp "$lib" -lpthread -o "$out/encoder_dtype" && "$out/encoder_dtype" 1 1 1; }
lowp_gemm() { cxx bench/native/lowp_gemm.cpp "$lib" -lpthread -o "$out/lowp_gemm" && "$out/lowp_gemm" 1 1 scalar 16; }
linear_dump() { cxx bench/native/linear_dump.cpp "$lib" -lpthread -o "$out/linear_dump" && { "$out/linear_dump" || true; }; }
ab_native() { bash scripts/ab-native.sh HEAD . f32 16 1 auto stream 2; }
# The working tree built with FFFBERT_PROFILE (native/src/fff_profile.h): batched calls of 256 tokens on 2 threads
# take the planned walk, whose phases it prints at exit.
ab_profile() { AB_PROFILE=1 bash scripts/ab-native.sh . . f32 256 2 batched stream 2; }

check fff_stream 'ns/token' fff_stream
check fff_one_token '1 token\(s\) per call: [0-9]+' fff_one_token
check one_token_bound '^walk [0-9]+' one_token_bound
check row_read '^random' row_read
check core_rate '^cpus 0 1: per thread [0-9.]+ GFLOP/s' core_rate
check dot_rate '^ +64 +196608 +[0-9.]+$' dot_rate
check encoder_dtype 'tok/s' encoder_dtype
check lowp_gemm '^ +16 ' lowp_gemm
check linear_dump '^usage: ' linear_dump
check ab-native 'B / A paired [0-9.]+' ab_native
check ab-profile 'fffbert profile, [1-9][0-9]* planned calls' ab_profile

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
