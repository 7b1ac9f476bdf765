// <immintrin.h> for the AVX-512 kernel files. GCC 12.2's AVX-512 headers self-initialise their "undefined"
// vectors (GCC PR 105593, fixed in 12.3): the false -Wuninitialized / -Wmaybe-uninitialized they raise wherever
// such intrinsics are inlined would drown real warnings (and break -Werror builds), so they are silenced for the
// header alone. FFFBERT_KEEP_BRANCH(): placed in one arm of an if, keeps the if a branch where GCC or Clang
// could turn it into a select (a conditional move).
#pragma once
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FFFBERT_KEEP_BRANCH() __asm__ volatile("")
#else
#define FFFBERT_KEEP_BRANCH() ((void)0)
#endif
