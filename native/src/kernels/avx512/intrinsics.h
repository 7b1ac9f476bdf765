// <immintrin.h> for the AVX-512 kernel files. GCC 12.2's AVX-512 headers self-initialise their "undefined"
// vectors (GCC PR 105593, fixed in 12.3): the false -Wuninitialized / -Wmaybe-uninitialized they raise wherever
// such intrinsics are inlined would drown real warnings (and break -Werror builds), so they are silenced for the
// header alone.
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
