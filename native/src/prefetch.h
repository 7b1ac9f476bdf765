// FFFBERT_PREFETCH(p): a read prefetch of the cache line at p into L1, for the ISA-free drivers (fff.cpp,
// gemm.cpp); kernels use their own ISA's instructions. FFFBERT_PREFETCH_L2(p): the same into L2 (where the
// compiler can say so; else as FFFBERT_PREFETCH). FFFBERT_STORE_FENCE(): orders this thread's non-temporal
// stores before its later stores (x86 SFENCE; a no-op where the kernels make none). One definition for every
// compiler the build supports.
#pragma once

#if defined(_MSC_VER) && !defined(__clang__) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>
#define FFFBERT_PREFETCH(p) _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0)
#define FFFBERT_PREFETCH_L2(p) _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T1)
#elif defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#define FFFBERT_PREFETCH(p) __prefetch(p)
#define FFFBERT_PREFETCH_L2(p) __prefetch(p)
#elif defined(__GNUC__) || defined(__clang__)
#define FFFBERT_PREFETCH(p) __builtin_prefetch(p)
#define FFFBERT_PREFETCH_L2(p) __builtin_prefetch(p, 0, 2)
#else
#define FFFBERT_PREFETCH(p) ((void)(p))
#define FFFBERT_PREFETCH_L2(p) ((void)(p))
#endif

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#include <xmmintrin.h>
#define FFFBERT_STORE_FENCE() _mm_sfence()
#else
#define FFFBERT_STORE_FENCE() ((void)0)
#endif
