#!/usr/bin/env bash
# Two builds of the FFF core in one process, round by round (bench/native/ab_fff.cpp has why and how to read it).
#   bash scripts/ab-native.sh A B [weights] [tokens] [threads] [strategy] [inputs] [rounds]
# A and B: commits (anything `git rev-parse` takes) or `.` for the working tree as it is. Each is built once into
# build/ab/<name> (a commit's files unpacked into build/ab/src-<sha>) with position-independent code, linked with
# bench/native/ab_shim.cpp (this tree's) into build/ab/<name>.so; the rest of the arguments go to ab_fff.
#   bash scripts/ab-native.sh HEAD~1 . f32 2048 2 auto stream 16
# AB_PROFILE=1: both builds with FFFBERT_PROFILE (native/src/fff_profile.h): each side prints the phases of its
# planned calls at exit (the timers cost a little: compare sides built alike).
# Linux, g++ (cmake builds the core as scripts/test-native.sh does, without the addon).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ $# -ge 2 ] || { sed -n '2,8p' "$0"; exit 2; }
root=$PWD
out=$root/build/ab
mkdir -p "$out"
jobs=${JOBS:-2}

# build_side REV -> prints the shared object's path
build_side() {
  local rev=$1 src name
  if [ "$rev" = . ]; then
    src=$root
    name=worktree
  else
    local sha
    sha=$(git rev-parse --short=12 "$rev^{commit}")
    name=$sha
    src=$out/src-$sha
    if [ ! -d "$src" ]; then
      mkdir -p "$src.tmp"
      git archive "$sha" | tar -x -C "$src.tmp" && mv "$src.tmp" "$src"
    fi
  fi
  local profile=OFF
  if [ "${AB_PROFILE:-0}" = 1 ]; then profile=ON; name=$name-profile; fi
  local dir=$out/core-$name
  cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DFFFBERT_ADDON=OFF -DFFFBERT_TESTS=OFF \
    -DFFFBERT_PROFILE=$profile -DCMAKE_POSITION_INDEPENDENT_CODE=ON >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log" >&2; exit 1; }
  cmake --build "$dir" -j"$jobs" --target fffbert_core >"$dir.build.log" 2>&1 || { tail -30 "$dir.build.log" >&2; exit 1; }
  # The core's symbols stay inside the object (--exclude-libs, -Bsymbolic): two builds can then share a process.
  g++ -O2 -std=c++17 -shared -fPIC -fvisibility=hidden -I"$src/native/include" -I"$root/bench/native" \
    "$root/bench/native/ab_shim.cpp" "$dir/libfffbert_core.a" -Wl,--exclude-libs,ALL -Wl,-Bsymbolic -lpthread \
    -o "$out/$name.so"
  echo "$out/$name.so"
}

a=$(build_side "$1")
b=$(build_side "$2")
shift 2
g++ -O2 -std=c++17 "$root/bench/native/ab_fff.cpp" -ldl -o "$out/ab_fff"
echo "A = $a, B = $b" >&2
"$out/ab_fff" "$a" "$b" "$@"
