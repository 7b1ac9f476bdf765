#!/usr/bin/env bash
# Proves the package installs without a compiler: builds the linux-x64 prebuild and cross-builds the linux-arm64
# one, runs the arm64 kernel tests under qemu, checks `npm pack`'s file list, packs, installs the tarball into an
# empty folder with no compiler, cmake or make on PATH, and checks that require() and import() load the
# *prebuilt* binary and compute docs/FFF-SPEC.md section 1 correctly (scripts/package-smoke.mjs). Then checks that
# --build-from-source really builds from the packed sources, and says what to do when it cannot.
#
# Works on a copy of the working tree (tracked and untracked, not ignored files) in .cache/package-check, so the
# tree's own build/, dist/ and prebuilds/ are left alone: a prebuilds/ folder left in the tree would make
# `npm install` there skip the source build. Idempotent; build trees are kept between runs (incremental).
# Needs Debian/Ubuntu x86-64; installs missing packages itself when run as root.
# Env: FFFBERT_CHECK_SOURCE_BUILD=0 skips the source build from the tarball; FFFBERT_CHECK_ARM64_TESTS=0 skips the
# aarch64 kernel tests under qemu (slow; for a caller that already ran scripts/test-native-arm64.sh).
# Ends with "N passed, N failed" of its own checks and exits non-zero when any failed.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work="$root/.cache/package-check"
stage="$work/src"
logs="$work/logs"
export CMAKE_BUILD_PARALLEL_LEVEL=2 # 2 cores shared with others
passed=0
failed=0
start=$(date +%s)

pass() { passed=$((passed + 1)); echo "ok - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
# check NAME CMD...: runs CMD with its output in a log; passes on exit 0, else shows the log's tail.
check() {
  local name=$1 log
  shift
  log="$logs/$(tr -c 'A-Za-z0-9' '_' <<<"$name" | cut -c1-60).log"
  if "$@" >"$log" 2>&1; then
    pass "$name"
  else
    fail "$name (exit $?; log $log)"
    tail -25 "$log" | sed 's/^/    | /'
  fi
}
finish() {
  echo "package check took $(($(date +%s) - start)) s"
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}
info() { echo "   $*"; }

mkdir -p "$work" "$logs"
rm -f "$logs"/*.log

# --- 0. tools ----------------------------------------------------------------------------------------------------
need=()
command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v readelf >/dev/null && command -v strip >/dev/null || need+=(binutils)
command -v file >/dev/null || need+=(file)
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || need+=(g++)
command -v ninja >/dev/null || command -v make >/dev/null || need+=(make)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    check "apt-get install ${need[*]}" bash -c \
      "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${need[*]}"
  else
    fail "missing ${need[*]} (run as root to install them)"
  fi
fi
if [ ! -d "$root/node_modules/pkg-prebuilds" ] || [ ! -d "$root/node_modules/cmake-js" ]; then
  fail "node_modules is not installed in $root (npm ci first)"
  finish
fi

# --- 1. a copy of what would be packed, with the tree's node_modules ------------------------------------------
rm -rf "$stage"
mkdir -p "$stage"
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
  # tar keeps modification times, so the build trees outside the copy stay incremental between runs.
  (cd "$root" && git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
    [ -f "$f" ] && printf '%s\0' "$f"
  done | tar --null -T - -cf -) | tar -xf - -C "$stage"
else
  (cd "$root" && tar --exclude=./node_modules --exclude=./build --exclude=./dist --exclude=./prebuilds \
    --exclude=./.cache --exclude='*.tgz' -cf - .) | tar -xf - -C "$stage"
fi
ln -s "$root/node_modules" "$stage/node_modules"
cd "$stage" || exit 1

# --- 2. the prebuilt binaries ------------------------------------------------------------------------------------
export FFFBERT_PREBUILD_OUT="$work/build"
x64="prebuilds/fffbert-linux-x64/node-napi-v8.node"
arm64="prebuilds/fffbert-linux-arm64/node-napi-v8.node"
check "prebuild linux-x64 (scripts/prebuild.sh)" bash scripts/prebuild.sh
grep "^prebuild: " "$logs"/prebuild_linux_x64_*.log 2>/dev/null | sed 's/^/   /'
if [ -f "$x64" ]; then
  desc=$(file -b "$x64")
  case "$desc" in *"ELF 64-bit"*x86-64*", stripped"*) pass "$x64 is a stripped x86-64 ELF" ;; *) fail "$x64: $desc" ;; esac
  if readelf -d "$x64" | grep -q 'NEEDED.*\(libstdc++\|libgcc_s\|libnode\)'; then
    fail "$x64 needs libstdc++/libgcc_s/libnode: $(readelf -d "$x64" | grep NEEDED | tr -s ' ')"
  else
    pass "$x64 needs only the C library ($(readelf -d "$x64" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' '))"
  fi
  info "glibc symbol versions required: $(readelf -V -W "$x64" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tr '\n' ' ')"
fi

check "prebuild linux-arm64 (cross, cmake/aarch64-linux-gnu.cmake)" bash scripts/prebuild.sh --arch arm64
if [ -f "$arm64" ]; then
  desc=$(file -b "$arm64")
  case "$desc" in *"ELF 64-bit"*"ARM aarch64"*", stripped"*) pass "$arm64 is a stripped aarch64 ELF" ;; *) fail "$arm64: $desc" ;; esac
  info "glibc symbol versions required: $(readelf -V -W "$arm64" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tr '\n' ' ')"
fi

# --- 3. the arm64 kernel tests under qemu-user -----------------------------------------------------------------
if [ "${FFFBERT_CHECK_ARM64_TESTS:-1}" = 0 ]; then
  info "aarch64 kernel tests under qemu skipped (FFFBERT_CHECK_ARM64_TESTS=0)"
elif [ -f "$root/scripts/test-native-arm64.sh" ]; then
  check "native kernel tests for aarch64 under qemu (scripts/test-native-arm64.sh)" \
    env JOBS=2 BUILD_DIR="$work/build/arm64-tests" bash "$stage/scripts/test-native-arm64.sh"
  grep -E '^[0-9]+ passed, [0-9]+ failed' "$logs"/native_kernel_tests_for_aarch64*.log | tail -1 | sed 's/^/   /'
else
  arm_tests="$work/build/arm64-tests"
  check "native kernel tests for aarch64: cross-build" bash -c "
    cmake -S '$stage' -B '$arm_tests' -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_TOOLCHAIN_FILE='$stage/cmake/aarch64-linux-gnu.cmake' -DFFFBERT_TESTS=ON -DFFFBERT_ADDON=OFF &&
    cmake --build '$arm_tests' --target fffbert_native_tests -j 2 &&
    file -b '$arm_tests/fffbert_native_tests' | grep -q 'ARM aarch64'"
  check "native kernel tests for aarch64 under qemu-aarch64" \
    qemu-aarch64 -L /usr/aarch64-linux-gnu "$arm_tests/fffbert_native_tests"
  grep -E '^[0-9]+ passed, [0-9]+ failed' "$logs"/native_kernel_tests_for_aarch64_under*.log | tail -1 | sed 's/^/   /'
fi

# --- 4. what npm would pack ------------------------------------------------------------------------------------
check "TypeScript compiles (what prepare runs)" npx --no -- tsc -p tsconfig.json
check "npm pack --dry-run" bash -c "npm pack --dry-run --json --ignore-scripts >'$work/pack.json'"
check "package file list" node - "$work/pack.json" <<'EOF'
const fs = require('fs');
const [pack] = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const files = pack.files.map((f) => f.path);
const problems = [];
const forbidden = [
  [/^test\//, 'tests'], [/fixtures\//, 'fixtures'], [/(^|\/)build\//, 'a build folder'], [/^native\/tests\//, 'native tests'],
  [/\.ts$/, 'a TypeScript source', (p) => !p.endsWith('.d.ts')], [/\.map$/, 'a source map'], [/^(scripts|cmake|\.github|\.ci|\.cache|lib)\//, 'a development folder'],
  [/^bench\//, 'a bench file other than its runners, libs and README', (p) => !/^bench\/((layer|e2e)\.mjs|lib\/[\w-]+\.mjs|native\/\w+\.c|README\.md)$/.test(p)],
  [/node_modules\//, 'node_modules'], [/\.tgz$/, 'a tarball'], [/\.node$/, 'a binary outside prebuilds/', (p) => !p.startsWith('prebuilds/')],
];
for (const p of files) for (const [re, what, extra] of forbidden) if (re.test(p) && (!extra || extra(p))) problems.push(`${p}: ${what} is packed`);
const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
const required = ['package.json', 'README.md', 'binding-options.js', 'CMakeLists.txt', 'dist/index.js', 'dist/index.d.ts', 'dist/native.js',
  'bench/layer.mjs', 'bench/e2e.mjs', 'bench/lib/worker.mjs', 'bench/lib/limit.mjs',
  'prebuilds/fffbert-linux-x64/node-napi-v8.node', 'prebuilds/fffbert-linux-arm64/node-napi-v8.node',
  pkg.main, pkg.types, ...Object.values(pkg.bin || {})].map((p) => p.replace(/^\.\//, ''));
// The source fallback: every non-test source CMakeLists.txt names, and every header next to them.
const cmake = fs.readFileSync('CMakeLists.txt', 'utf8');
required.push(...new Set(cmake.match(/native\/[\w./-]+\.(?:cpp|cc|h|hpp)/g).filter((p) => !p.startsWith('native/tests/'))));
const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(`${d}/${e.name}`) : [`${d}/${e.name}`]));
required.push(...walk('native').filter((p) => /\.(h|hpp)$/.test(p) && !p.startsWith('native/tests/')));
for (const p of new Set(required)) if (!files.includes(p)) problems.push(`${p} is missing`);
const dirs = [...new Set(files.map((p) => p.split('/').slice(0, p.startsWith('prebuilds/') ? 2 : 1).join('/')))].sort();
console.log(`${files.length} files: ${dirs.join(' ')}`);
if (problems.length) { console.error(problems.join('\n')); process.exit(1); }
EOF
sed -n '1p' "$logs"/package_file_list*.log | sed 's/^/   /'

rm -f "$work"/fffbert-*.tgz
check "npm pack" bash -c "npm pack --json --ignore-scripts --pack-destination '$work' >'$work/pack-real.json'"
tgz=$(ls "$work"/fffbert-*.tgz 2>/dev/null | head -1)
if [ -n "$tgz" ]; then
  node -e '
    const [p] = require(process.argv[1]);
    const kb = (n) => (n / 1024).toFixed(1) + " KiB";
    const bins = p.files.filter((f) => f.path.endsWith(".node")).map((f) => `${f.path} ${kb(f.size)}`);
    console.log(`   ${p.filename}: packed ${kb(p.size)}, unpacked ${kb(p.unpackedSize)}, ${p.entryCount} files`);
    for (const b of bins) console.log(`     ${b}`);
  ' "$work/pack-real.json"
else
  fail "npm pack wrote no tarball"
  finish
fi

# --- 5. install without a compiler ---------------------------------------------------------------------------------
# A PATH with node, npm and sh only: no cc, c++, cmake, make or ninja. npm runs the install script with sh.
toolbin="$work/toolbin"
rm -rf "$toolbin"
mkdir -p "$toolbin"
for t in node npm npx sh; do
  src=$(command -v "$t") && ln -s "$(readlink -f "$src")" "$toolbin/$t"
done
check "the install PATH has no compiler, cmake, make or ninja" env PATH="$toolbin" sh -c \
  'for t in cc gcc g++ c++ clang clang++ cmake make ninja; do command -v $t && exit 1; done; exit 0'

app="$work/app"
rm -rf "$app"
mkdir -p "$app"
printf '{ "name": "fffbert-package-check", "version": "1.0.0", "private": true }\n' >"$app/package.json"
cd "$app" || exit 1
npm_install=(npm install "$tgz" --no-audit --no-fund --foreground-scripts --loglevel=info --no-package-lock)
if env PATH="$toolbin" "${npm_install[@]}" --offline >"$logs/npm_install.log" 2>&1; then
  pass "npm install <tgz> --offline with no compiler on PATH"
elif grep -q 'ENOTCACHED' "$logs/npm_install.log" &&
  env PATH="$toolbin" "${npm_install[@]}" --prefer-offline >"$logs/npm_install.log" 2>&1; then
  pass "npm install <tgz> --prefer-offline with no compiler on PATH (some dependency was not in the npm cache)"
else
  fail "npm install <tgz> with no compiler on PATH (log $logs/npm_install.log)"
  tail -25 "$logs/npm_install.log" | sed 's/^/    | /'
fi
pkgdir="$app/node_modules/fffbert"
if [ -d "$pkgdir" ] && [ ! -e "$pkgdir/build" ] && ! grep -q 'CMD CONFIGURE\|CMD BUILD' "$logs/npm_install.log"; then
  pass "the install used the prebuilt binary: cmake-js did not run, no build/ folder"
else
  fail "the install tried to compile (or did not install): $(ls "$pkgdir" 2>&1 | tr '\n' ' ')"
fi
cp "$stage/scripts/package-smoke.mjs" "$app/"
mkdir -p "$app/lib" && cp "$stage/scripts/lib/fff-reference.mjs" "$app/lib/"
smoke() { # smoke LABEL EXPECT: runs the smoke test, adds its ok/not ok lines to the counts
  local label=$1 expect=$2 log="$logs/smoke_$2.log"
  env PATH="$toolbin" node package-smoke.mjs --expect "$expect" >"$log" 2>&1
  local rc=$? p f
  p=$(grep -c '^ok - ' "$log")
  f=$(grep -c '^not ok - ' "$log")
  passed=$((passed + p))
  failed=$((failed + f))
  sed -e '/^[0-9]* passed, [0-9]* failed$/d' -e "s/^ok - /ok - [$label] /" -e "s/^not ok - /FAIL - [$label] /" "$log"
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    fail "[$label] package-smoke.mjs exited $rc"
    tail -15 "$log" | sed 's/^/    | /'
  fi
}
smoke prebuilt prebuilt

# The layer benchmark from the installed package (issue 11): `fffbert bench --quick` with no peer installed (ORT
# and OpenBLAS are said to be absent, never fatal), its table on stdout, JSON and SVG where --out says.
bench_start=$(date +%s)
if env PATH="$toolbin" npx --no fffbert bench --quick --out "$app/bench-out" >"$logs/bench_quick.log" 2>&1 &&
  grep -q 'FFF speed-up vs fastest dense 4095' "$logs/bench_quick.log" &&
  grep -q 'FFF limit on this machine' "$logs/bench_quick.log" &&
  grep -q 'onnxruntime-node not found' "$logs/bench_quick.log" &&
  [ -s "$app/bench-out/layer.json" ] && [ -s "$app/bench-out/layer.svg" ]; then
  pass "fffbert bench --quick from the installed package: table, limit, JSON and SVG in --out ($(($(date +%s) - bench_start)) s)"
else
  fail "fffbert bench --quick from the installed package (log $logs/bench_quick.log)"
  tail -25 "$logs/bench_quick.log" | sed 's/^/    | /'
fi

# --- 6. the source build: forced, without and with a compiler --------------------------------------------------------
if env PATH="$toolbin" npm rebuild fffbert --build-from-source --foreground-scripts >"$logs/rebuild_no_compiler.log" 2>&1; then
  fail "npm rebuild --build-from-source succeeded with no compiler: the flag did not force a source build"
elif grep -q 'cmake-js compile' "$logs/rebuild_no_compiler.log" && grep -q 'A source build needs CMake' "$logs/rebuild_no_compiler.log"; then
  pass "--build-from-source skips the prebuilt binary; with no compiler the install fails saying what a source build needs"
else
  fail "npm rebuild --build-from-source without a compiler: unexpected output"
  tail -15 "$logs/rebuild_no_compiler.log" | sed 's/^/    | /'
fi
if [ "${FFFBERT_CHECK_SOURCE_BUILD:-1}" != 0 ]; then
  check "npm rebuild --build-from-source builds the packed sources" npm rebuild fffbert --build-from-source --foreground-scripts
  if [ -f "$pkgdir/build/Release/fffbert.node" ]; then
    smoke source source
  else
    fail "no build/Release/fffbert.node after the source build"
  fi
  rm -rf "$pkgdir/build" # back to the prebuilt binary
else
  info "source build from the tarball skipped (FFFBERT_CHECK_SOURCE_BUILD=0)"
fi

finish
