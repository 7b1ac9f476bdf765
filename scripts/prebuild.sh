#!/usr/bin/env bash
# Builds the portable Release addon with cmake-js and copies it, stripped, into prebuilds/ under the name the
# loader (pkg-prebuilds, binding-options.js) looks for: prebuilds/fffbert-<platform>-<arch>[-musl]/node-napi-v8.node.
#
#   scripts/prebuild.sh                  this machine's platform, arch and libc
#   scripts/prebuild.sh --arch arm64     linux-arm64 cross-build on an x86-64 Linux host (cmake/aarch64-linux-gnu.cmake)
#   options: --libc glibc|musl (Linux; default: musl on Alpine, as pkg-prebuilds decides), --jobs N (default 2)
#
# Portable by construction: FFFBERT_NATIVE_TUNE=OFF (no -march=native), no fast-math; the binary carries every
# kernel its architecture can use (scalar + AVX2 + AVX-512 on x64, scalar + NEON on arm64), chosen at run time.
# On Linux, libstdc++ and libgcc are linked statically (FFFBERT_STATIC_RUNTIME) so only glibc (or musl) is needed.
# The same script runs in CI (.github/workflows/prebuild.yml) and in scripts/check-package.sh. Offline: Node-API
# headers come from the node-api-headers package (package.json "binary.napi_versions"), nothing is downloaded.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

NAPI_VERSION=8 # binding-options.js napi_versions and NAPI_VERSION in CMakeLists.txt
NAME=fffbert   # binding-options.js name, the CMake target's output name

platform=$(node -p process.platform)
host_arch=$(node -p process.arch)
arch=$host_arch
libc=
jobs=2
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --arch=*) arch=${1#*=}; shift ;;
    --libc) libc=$2; shift 2 ;;
    --libc=*) libc=${1#*=}; shift ;;
    --jobs) jobs=$2; shift 2 ;;
    --jobs=*) jobs=${1#*=}; shift ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "prebuild: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ "$platform" = linux ]; then
  # pkg-prebuilds' loader calls a Linux system musl exactly when /etc/alpine-release exists: name it the same way.
  if [ -z "$libc" ]; then
    if [ -e /etc/alpine-release ]; then libc=musl; else libc=glibc; fi
  fi
  case "$libc" in glibc | musl) ;; *) echo "prebuild: --libc must be glibc or musl" >&2; exit 2 ;; esac
  host_libc=glibc
  if ldd --version 2>&1 | grep -qi musl; then host_libc=musl; fi
  if [ "$libc" != "$host_libc" ]; then
    echo "prebuild: this machine's C library is $host_libc; build the $libc binary on a $libc system (e.g. node:20-alpine)" >&2
    exit 1
  fi
else
  libc=
fi
target="$platform-$arch"
if [ "$libc" = musl ]; then target="$target-musl"; fi
# FFFBERT_PREBUILD_OUT: where the CMake build trees go (default .cache/prebuild, ignored by git and npm).
out="${FFFBERT_PREBUILD_OUT:-.cache/prebuild}/$target"

cmake_defs=(--CDFFFBERT_NATIVE_TUNE=OFF --CDFFFBERT_SANITIZE=OFF --CDFFFBERT_ADDON=ON --CDFFFBERT_TESTS=OFF)
strip_tool=strip
nm_tool=nm
if [ "$platform" = linux ]; then
  cmake_defs+=(--CDFFFBERT_STATIC_RUNTIME=ON)
  if [ "$arch" != "$host_arch" ]; then
    if [ "$arch" = arm64 ] && [ "$host_arch" = x64 ] && [ "$libc" = glibc ]; then
      command -v aarch64-linux-gnu-g++ >/dev/null || {
        echo "prebuild: cross-building linux-arm64 needs aarch64-linux-gnu-g++ (apt-get install g++-aarch64-linux-gnu)" >&2
        exit 1
      }
      cmake_defs+=("--CDCMAKE_TOOLCHAIN_FILE=$PWD/cmake/aarch64-linux-gnu.cmake")
      strip_tool=aarch64-linux-gnu-strip
      nm_tool=aarch64-linux-gnu-nm
    else
      echo "prebuild: no cross-build from linux-$host_arch to linux-$arch ($libc); build on a $arch machine" >&2
      exit 1
    fi
  fi
elif [ "$arch" != "$host_arch" ] && [ "$platform" != darwin ]; then
  # cmake-js sets CMAKE_OSX_ARCHITECTURES from --arch on macOS; elsewhere build on the target machine.
  echo "prebuild: cross-building $platform-$arch on $platform-$host_arch is not supported" >&2
  exit 1
fi

echo "prebuild: $target (N-API $NAPI_VERSION) in $out"
# configure always re-applies the -D options (a stale cache from another configuration cannot leak in); build is
# incremental. npx runs cmake-js with npm's configuration in the environment, as `npm install` does.
npx --no -- cmake-js configure --out "$out" --config Release --arch "$arch" "${cmake_defs[@]}"
npx --no -- cmake-js build --out "$out" --config Release --arch "$arch" --parallel "$jobs"

built="$out/Release/$NAME.node"
[ -f "$built" ] || { echo "prebuild: $built was not produced" >&2; exit 1; }

# Every kernel of the architecture must be in the binary (chosen at run time, not at build time).
case "$arch" in
  x64) want_isas="scalar avx2 avx512" ;;
  arm64) want_isas="scalar neon" ;;
  *) want_isas="scalar" ;;
esac
if [ "$platform" != win32 ] && command -v "$nm_tool" >/dev/null; then
  syms=$("$nm_tool" -C "$built" 2>/dev/null || true)
  for isa in $want_isas; do
    if ! grep -q "fffbert::$isa::" <<<"$syms"; then
      echo "prebuild: the $isa kernels are missing from $built" >&2
      exit 1
    fi
  done
  echo "prebuild: kernels present: $want_isas"
fi

# pkg-prebuilds-copy joins --baseDir to the working directory: it must be relative.
base_dir=$(node -p 'require("path").relative(process.cwd(), process.argv[1])' "$out/Release")
copy_args=(--baseDir "$base_dir" --source "$NAME.node" --name "$NAME" --napi_version "$NAPI_VERSION"
  --platform "$platform" --arch "$arch")
[ -n "$libc" ] && copy_args+=(--libc "$libc")
npx --no -- pkg-prebuilds-copy "${copy_args[@]}"

dest="prebuilds/$NAME-$target/node-napi-v$NAPI_VERSION.node"
[ -f "$dest" ] || { echo "prebuild: pkg-prebuilds-copy did not write $dest" >&2; exit 1; }
# Strip here rather than with pkg-prebuilds-copy --strip: that runs the host's strip and ignores its failure,
# which leaves a cross-built binary unstripped without a word.
case "$platform" in
  linux) "$strip_tool" --strip-all "$dest" ;;
  darwin) strip -x "$dest" ;;
esac

if [ "$platform" = linux ] && command -v readelf >/dev/null; then
  needed=$(readelf -d "$dest" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  glibc_max=$(readelf -V -W "$dest" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n -k3,3n | tail -1)
  echo "prebuild: needs $needed${glibc_max:+(glibc >= $glibc_max)}"
  if grep -q 'libstdc++\|libgcc_s' <<<"$needed"; then
    echo "prebuild: $dest still needs libstdc++/libgcc_s: FFFBERT_STATIC_RUNTIME did not apply" >&2
    exit 1
  fi
fi
size=$(wc -c <"$dest" | tr -d ' ')
echo "prebuild: wrote $dest ($size bytes)"
