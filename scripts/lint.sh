#!/usr/bin/env bash
# The project's habits, checked (npm run lint) or applied (npm run format, i.e. this script with --write):
#   biome format   TypeScript / JavaScript / JSON formatting (biome.jsonc)
#   biome lint     the linter and import order (biome.jsonc)
#   clang-format   C++ formatting (.clang-format; clang-format 14 as Debian 12 ships it)
#   tsc lib+test   the type-check of lib/ and test/ together (tsconfig.check.json; the build covers lib/ only)
#   tsc bench      the type-check of bench/ and scripts/ JavaScript (bench/tsconfig.json)
# Check mode prints one line per check and then "N passed, N failed"; exits non-zero when any failed.
# --write runs `biome check --write` (format, safe lint fixes, imports) and `clang-format -i` on every file.
set -uo pipefail
cd "$(dirname "$0")/.."

# Every C/C++ source the project owns (not node_modules, not build output).
cpp_files() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files --cached --others --exclude-standard -- 'native/*.cpp' 'native/*.h' 'bench/native/*.c'
  else
    find native bench/native -name '*.cpp' -o -name '*.h' -o -name '*.c'
  fi
}

clang_format=${CLANG_FORMAT:-clang-format}
if [[ "${1:-}" == "--write" ]]; then
  npx biome check --write . || true
  command -v "$clang_format" >/dev/null || { echo "clang-format not found (apt-get install clang-format)"; exit 1; }
  cpp_files | xargs "$clang_format" -i
  exit 0
fi

passed=0
failed=0
log=$(mktemp)
check() {
  local name=$1; shift
  if "$@" >"$log" 2>&1; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name: $*"
    tail -40 "$log" | sed 's/^/     /'
    failed=$((failed + 1))
  fi
}

check "biome format" npx biome format --max-diagnostics=20 .
check "biome lint" npx biome lint --max-diagnostics=50 .
if command -v "$clang_format" >/dev/null; then
  echo "     ($("$clang_format" --version))"
  cpp_files >"$log.cpp"
  check "clang-format" xargs -a "$log.cpp" "$clang_format" --dry-run --Werror
else
  echo "FAIL clang-format: not installed (apt-get install clang-format)"
  failed=$((failed + 1))
fi
check "tsc lib+test" npx tsc -p tsconfig.check.json
check "tsc bench" npx tsc -p bench/tsconfig.json
rm -f "$log" "$log.cpp"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
