// FFFBERT_PREFETCH(p): a read prefetch of the cache line at p into L1, for the ISA-free drivers (fff.cpp,
// gemm.cpp); kernels use their own ISA's instructions. One definition for every compiler the build supports.
#pragma once

#if defined(_MSC_VER) && !defined(__clang__) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>
#define FFFBERT_PREFETCH(p) _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0)
#elif defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#define FFFBERT_PREFETCH(p) __prefetch(p)
#elif defined(__GNUC__) || defined(__clang__)
#define FFFBERT_PREFETCH(p) __builtin_prefetch(p)
#else
#define FFFBERT_PREFETCH(p) ((void)(p))
#endif
