# Cross-compiling for linux-arm64 (glibc) on an x86-64 Debian/Ubuntu host:
#   apt-get install g++-aarch64-linux-gnu qemu-user
#   cmake -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake ...
# Used by scripts/prebuild.sh --arch arm64 (the addon: Linux addons do not link against node, and the Node-API
# headers are the same on every platform) and for the native tests, which CMake runs under qemu-user.
# AARCH64_TRIPLE / AARCH64_SYSROOT override the toolchain prefix and the target's root (headers, libc, libstdc++).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

if(NOT AARCH64_TRIPLE)
  set(AARCH64_TRIPLE aarch64-linux-gnu)
endif()
if(NOT AARCH64_SYSROOT)
  set(AARCH64_SYSROOT /usr/${AARCH64_TRIPLE})
endif()

set(CMAKE_C_COMPILER ${AARCH64_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${AARCH64_TRIPLE}-g++)
find_program(CMAKE_STRIP ${AARCH64_TRIPLE}-strip)

# Libraries and headers come from the target's root only; programs (node, qemu) from the host.
set(CMAKE_FIND_ROOT_PATH ${AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest and add_test run the aarch64 test binaries through user-mode emulation.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L ${AARCH64_SYSROOT})
