// FFF kernels, AVX-512 F/BW/DQ/VL (16 floats per vector).
//
// Dot order (fixed by n alone): 4 accumulators take consecutive vectors of 64-float blocks; the vectors left
// after the last whole block (whole ones, then a partial one with a masked x load) go to accumulators 0, 1, ...;
// then (a0 + a1) + (a2 + a3) and a fixed horizontal sum. 32 zmm registers hold 4 dots x 4 accumulators side by side
// (one dot of I=768: 12 blocks, so 4 chains already match the 2 loads per cycle).
// bf16 rows: the same templates with each 16-element load widened (VPMOVZXWD + VPSLLD 16): bitwise the fp32
// kernels on the widened rows. The bf16 gather widens 32 elements at once (even ones VPSLLD 16, odd ones
// VPANDD), keeps even and odd outputs in separate registers and interleaves them once at the end: per element
// the same FMAs in the same order, so bitwise the same y with half the widening work.
// bf16_dot layers (x rounded to bf16 too), where the CPU has AVX512_BF16: VCVTNE2PS2BF16 rounds x and VDPBF16PS
// takes 32 products per instruction (one order fixed by n: 4 accumulators over consecutive 32-element chunks of
// 128-element blocks, the chunks left over to accumulators 0, 1, ...; rows and x zero-padded to 32). Those
// functions carry a target attribute and are called only when cpu_features().avx512_bf16.
// Streamed gathers (kStream): the same arithmetic, y stored with VMOVNTPS (whole aligned lines, past the caches).
#include "kernels/avx512/intrinsics.h"

#include "fffbert/isa.h"
#include "kernels/fff_kernels.h"

namespace fffbert {
namespace avx512 {
namespace {

constexpr int64_t kV = 16;

// Lanes [0, rem) set, rem in [0, 16].
__mmask16 tail_mask(int64_t rem) { return __mmask16((1u << rem) - 1u); }

// 16 row elements as fp32: an fp32 row is loaded as is, a bf16 row is widened exactly.
__m512 load_w(const float* p) { return _mm512_load_ps(p); }
__m512 load_w(const uint16_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

float hsum(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  const __m512 s = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
  const __m256 h = _mm256_add_ps(_mm512_extractf32x8_ps(s, 0), _mm512_extractf32x8_ps(s, 1));
  __m128 v = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  v = _mm_add_ps(v, _mm_movehl_ps(v, v));
  v = _mm_add_ss(v, _mm_movehdup_ps(v));
  return _mm_cvtss_f32(v);
}

// The whole 64-float blocks of P dots side by side; returns the end of the last block. kShared: one row w[0] for
// all P tokens, each of its vectors loaded once. Plain loops, no lambda: with the accumulators captured by a
// lambda GCC 12 stored them to memory in every iteration (seen in the assembly); this form keeps them in zmm.
template <typename W, int P, bool kShared>
int64_t fff_dot_blocks(const W* const* w, const float* const* x, int64_t n, __m512 (*out)[4]) {
  __m512 acc[P][4];
  for (int p = 0; p < P; ++p) {
    for (int a = 0; a < 4; ++a) acc[p][a] = _mm512_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 4 * kV <= n; i += 4 * kV) {
    for (int a = 0; a < 4; ++a) {
      const __m512 ws = load_w(w[0] + i + a * kV);
      for (int p = 0; p < P; ++p) {
        const __m512 wv = kShared ? ws : load_w(w[p] + i + a * kV);
        acc[p][a] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x[p] + i + a * kV), acc[p][a]);
      }
    }
  }
  for (int p = 0; p < P; ++p) {
    for (int a = 0; a < 4; ++a) out[p][a] = acc[p][a];
  }
  return i;
}

// P dots, each in the order described above.
template <typename W, int P, bool kShared>
void fff_dot_p(const W* const* w, const float* const* x, int64_t n, float* out) {
  __m512 acc[P][4];
  const int64_t i = fff_dot_blocks<W, P, kShared>(w, x, n, acc);
  // What is left after the whole blocks: vector a goes to accumulator a.
  for (int a = 0; a < 4; ++a) {
    const int64_t o = i + a * kV;
    if (o >= n) break;
    const __mmask16 m = tail_mask(n - o < kV ? n - o : kV);
    for (int p = 0; p < P; ++p) {
      acc[p][a] = _mm512_fmadd_ps(load_w(w[kShared ? 0 : p] + o), _mm512_maskz_loadu_ps(m, x[p] + o), acc[p][a]);
    }
  }
  for (int p = 0; p < P; ++p) out[p] = hsum(acc[p][0], acc[p][1], acc[p][2], acc[p][3]);
}

template <typename W, bool kShared>
void fff_dot_n(const W* const* w, const float* const* x, int count, int64_t n, float* out) {
  switch (count) {
    case 1: fff_dot_p<W, 1, kShared>(w, x, n, out); break;
    case 2: fff_dot_p<W, 2, kShared>(w, x, n, out); break;
    case 3: fff_dot_p<W, 3, kShared>(w, x, n, out); break;
    default: fff_dot_p<W, 4, kShared>(w, x, n, out); break;
  }
}

template <typename W>
void fff_dot(const W* const* w, const float* const* x, int count, int64_t n, float* out) {
  fff_dot_n<W, false>(w, x, count, n, out);
}

template <typename W>
void fff_dot_shared(const W* w, const float* const* x, int count, int64_t n, float* out) {
  fff_dot_n<W, true>(&w, x, count, n, out);
}

// One token down one tree (walk1): the dot of fff_dot_p<W, 1> with x's first kXReg vectors held in registers
// over all levels, each level's logit deciding the next row. NV vectors of 16 (n = 16 NV): vector v goes to
// accumulator v % 4, as in fff_dot_p, so the logits are bitwise those of the dot kernel.
constexpr int kXReg = 24;

template <typename W, int NV>
void fff_walk1_nv(const W* w, int64_t ld, const float* b, int64_t depth, const float* x, float* logits,
                  int32_t* nodes) {
  constexpr int R = NV < kXReg ? NV : kXReg;
  __m512 xr[R];
  // Unrolled, so each load goes straight to its register: as a plain loop GCC 12 made it a `rep movsq` of x onto
  // the stack and loaded the registers from there (10% of the walk's time at I=768, one token repeated).
#pragma GCC unroll 64
  for (int v = 0; v < R; ++v) xr[v] = _mm512_loadu_ps(x + v * kV);
  int64_t node = 0;
  for (int64_t level = 0; level <= depth; ++level) {
    const W* row = w + node * ld;
    if (level < depth) fff_walk1_prefetch_children(w, ld, node);
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
#pragma GCC unroll 64
    for (int v = 0; v < NV; ++v) {
      const __m512 xv = v < R ? xr[v < R ? v : 0] : _mm512_loadu_ps(x + v * kV);
      acc[v % 4] = _mm512_fmadd_ps(load_w(row + v * kV), xv, acc[v % 4]);
    }
    node = fff_walk1_route(hsum(acc[0], acc[1], acc[2], acc[3]) + b[node], node, level, logits, nodes);
  }
}

template <typename W>
bool fff_walk1(const W* w, int64_t ld, const float* b, int64_t depth, const float* x, int64_t n, float* logits,
               int32_t* nodes) {
  switch (n) {
    case 512: fff_walk1_nv<W, 32>(w, ld, b, depth, x, logits, nodes); break;
    case 768: fff_walk1_nv<W, 48>(w, ld, b, depth, x, logits, nodes); break;
    case 1024: fff_walk1_nv<W, 64>(w, ld, b, depth, x, logits, nodes); break;
    default:  // any other width: fff_dot_p<W, 1> level after level
      fff_walk1_by_dot(w, ld, b, depth, x, n, logits, nodes, [](const W* row, const float* xp, int64_t len) {
        float d = 0.0f;
        fff_dot_p<W, 1, false>(&row, &xp, len, &d);
        return d;
      });
      break;
  }
  return true;
}

// A vector of y: through the caches, or (kStream) past them with a non-temporal store of the whole line (the
// streamed gathers: y 64-byte aligned, see fff_kernels.h).
template <bool kStream>
inline void store_y(float* p, __m512 v) {
  if constexpr (kStream) {
    _mm512_stream_ps(p, v);
  } else {
    _mm512_storeu_ps(p, v);
  }
}

template <typename W>
void fff_gather_from(const W* const* w, const float* g, int64_t count, int64_t i, int64_t n, float* y);

// Output blocks of 4 vectors stay in registers over all rows: one load + one FMA per element and row, y
// written once.
template <typename W, bool kStream = false>
void fff_gather(const W* const* w, const float* g, int64_t count, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 4 * kV <= n; i += 4 * kV) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t j = 0; j < count; ++j) {
      const __m512 gj = _mm512_set1_ps(g[j]);
      const W* r = w[j] + i;
      a0 = _mm512_fmadd_ps(gj, load_w(r), a0);
      a1 = _mm512_fmadd_ps(gj, load_w(r + kV), a1);
      a2 = _mm512_fmadd_ps(gj, load_w(r + 2 * kV), a2);
      a3 = _mm512_fmadd_ps(gj, load_w(r + 3 * kV), a3);
    }
    store_y<kStream>(y + i, a0);
    store_y<kStream>(y + i + kV, a1);
    store_y<kStream>(y + i + 2 * kV, a2);
    store_y<kStream>(y + i + 3 * kV, a3);
  }
  fff_gather_from(w, g, count, i, n, y);
}

// Outputs [i, n) of fff_gather, one vector at a time.
template <typename W>
void fff_gather_from(const W* const* w, const float* g, int64_t count, int64_t i, int64_t n, float* y) {
  for (; i < n; i += kV) {
    __m512 a = _mm512_setzero_ps();
    for (int64_t j = 0; j < count; ++j) a = _mm512_fmadd_ps(_mm512_set1_ps(g[j]), load_w(w[j] + i), a);
    if (i + kV <= n) {
      _mm512_storeu_ps(y + i, a);
    } else {
      _mm512_mask_storeu_ps(y + i, tail_mask(n - i), a);
    }
  }
}

// bf16 rows: 128 outputs per block as 4 loads of 32 bf16 -> 8 fp32 vectors (even and odd elements) in 8
// accumulators; the rest as in fff_gather.
template <bool kStream = false>
void fff_gather_bf16(const uint16_t* const* w, const float* g, int64_t count, int64_t n, float* y) {
  const __m512i odd_mask = _mm512_set1_epi32(int32_t(0xffff0000u));
  // y[2i] = e[i], y[2i+1] = o[i]: indices 0-15 pick from e, 16-31 from o.
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  int64_t i = 0;
  for (; i + 8 * kV <= n; i += 8 * kV) {
    __m512 e[4], o[4];
    for (int a = 0; a < 4; ++a) e[a] = o[a] = _mm512_setzero_ps();
    for (int64_t j = 0; j < count; ++j) {
      const __m512 gj = _mm512_set1_ps(g[j]);
      const uint16_t* r = w[j] + i;
      for (int a = 0; a < 4; ++a) {
        const __m512i v = _mm512_loadu_si512(r + a * 2 * kV);
        e[a] = _mm512_fmadd_ps(gj, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), e[a]);
        o[a] = _mm512_fmadd_ps(gj, _mm512_castsi512_ps(_mm512_and_si512(v, odd_mask)), o[a]);
      }
    }
    for (int a = 0; a < 4; ++a) {
      store_y<kStream>(y + i + a * 2 * kV, _mm512_permutex2var_ps(e[a], lo, o[a]));
      store_y<kStream>(y + i + a * 2 * kV + kV, _mm512_permutex2var_ps(e[a], hi, o[a]));
    }
  }
  fff_gather_from(w, g, count, i, n, y);
}

// Two tokens' gathers (gather2): fff_gather's blocks for both at once, 8 accumulators; a row both tokens take at
// position j is loaded once for the two FMAs. Per element each y gets fff_gather's FMAs in its order: bitwise.
// Zen 4, 12 rows of 768 from L2, 8 of them shared: 354 -> 260 ns per token (none shared: 371 -> 365).
template <bool kStream = false>
void fff_gather2(const float* const* w0, const float* const* w1, const float* g0, const float* g1, int64_t count,
                 int64_t n, float* y0, float* y1) {
  int64_t i = 0;
  for (; i + 4 * kV <= n; i += 4 * kV) {
    __m512 a[4], b[4];
    for (int k = 0; k < 4; ++k) a[k] = b[k] = _mm512_setzero_ps();
    for (int64_t j = 0; j < count; ++j) {
      const __m512 ga = _mm512_set1_ps(g0[j]), gb = _mm512_set1_ps(g1[j]);
      const float* r0 = w0[j] + i;
      const float* r1 = w1[j] + i;
      if (r0 == r1) {
        for (int k = 0; k < 4; ++k) {
          const __m512 v = load_w(r0 + k * kV);
          a[k] = _mm512_fmadd_ps(ga, v, a[k]);
          b[k] = _mm512_fmadd_ps(gb, v, b[k]);
        }
      } else {
        for (int k = 0; k < 4; ++k) {
          a[k] = _mm512_fmadd_ps(ga, load_w(r0 + k * kV), a[k]);
          b[k] = _mm512_fmadd_ps(gb, load_w(r1 + k * kV), b[k]);
        }
      }
    }
    for (int k = 0; k < 4; ++k) {
      store_y<kStream>(y0 + i + k * kV, a[k]);
      store_y<kStream>(y1 + i + k * kV, b[k]);
    }
  }
  fff_gather_from(w0, g0, count, i, n, y0);
  fff_gather_from(w1, g1, count, i, n, y1);
}

// Four tokens (gather4): fff_gather's 64-output blocks for each, 16 accumulators. Token t's row at position j is
// loaded unless token t - 1 takes the same row there: in leaf order neighbours share their upper rows, the tokens
// sharing a row are adjacent, so at 2048 tokens four neighbours load ~4.5 of their 12 rows each where a pair
// loads ~7. Per element the FMAs of fff_gather, in its order: bitwise four fff_gather calls.
template <bool kStream = false>
void fff_gather4(const float* const* const* w, const float* const* g, int64_t count, int64_t n, float* const* y) {
  int64_t i = 0;
  for (; i + 4 * kV <= n; i += 4 * kV) {
    __m512 a[4][4];
#pragma GCC unroll 4
    for (int t = 0; t < 4; ++t) {
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) a[t][k] = _mm512_setzero_ps();
    }
    for (int64_t j = 0; j < count; ++j) {
      // Token 0 loads its row; each next token only where its row differs from the token's before it. Unrolled, so
      // that v and a stay in registers.
      const float* prev = w[0][j] + i;
      __m512 v[4];
      __m512 gt = _mm512_set1_ps(g[0][j]);
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        v[k] = load_w(prev + k * kV);
        a[0][k] = _mm512_fmadd_ps(gt, v[k], a[0][k]);
      }
#pragma GCC unroll 4
      for (int t = 1; t < 4; ++t) {
        const float* r = w[t][j] + i;
        if (r != prev) {
#pragma GCC unroll 4
          for (int k = 0; k < 4; ++k) v[k] = load_w(r + k * kV);
          prev = r;
        }
        gt = _mm512_set1_ps(g[t][j]);
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) a[t][k] = _mm512_fmadd_ps(gt, v[k], a[t][k]);
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < 4; ++t) {
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) store_y<kStream>(y[t] + i + k * kV, a[t][k]);
    }
  }
  for (int t = 0; t < 4; ++t) fff_gather_from(w[t], g[t], count, i, n, y[t]);
}

// The same for bf16 rows: fff_gather_bf16's 128-output blocks (even and odd elements apart) for both tokens,
// 16 accumulators; a shared row is loaded and widened once.
template <bool kStream = false>
void fff_gather2_bf16(const uint16_t* const* w0, const uint16_t* const* w1, const float* g0, const float* g1,
                      int64_t count, int64_t n, float* y0, float* y1) {
  const __m512i odd_mask = _mm512_set1_epi32(int32_t(0xffff0000u));
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  int64_t i = 0;
  for (; i + 8 * kV <= n; i += 8 * kV) {
    __m512 e0[4], o0[4], e1[4], o1[4];
    for (int a = 0; a < 4; ++a) e0[a] = o0[a] = e1[a] = o1[a] = _mm512_setzero_ps();
    for (int64_t j = 0; j < count; ++j) {
      const __m512 ga = _mm512_set1_ps(g0[j]), gb = _mm512_set1_ps(g1[j]);
      const uint16_t* r0 = w0[j] + i;
      const uint16_t* r1 = w1[j] + i;
      const bool same = r0 == r1;
      for (int a = 0; a < 4; ++a) {
        const __m512i v0 = _mm512_loadu_si512(r0 + a * 2 * kV);
        const __m512i v1 = same ? v0 : _mm512_loadu_si512(r1 + a * 2 * kV);
        e0[a] = _mm512_fmadd_ps(ga, _mm512_castsi512_ps(_mm512_slli_epi32(v0, 16)), e0[a]);
        o0[a] = _mm512_fmadd_ps(ga, _mm512_castsi512_ps(_mm512_and_si512(v0, odd_mask)), o0[a]);
        e1[a] = _mm512_fmadd_ps(gb, _mm512_castsi512_ps(_mm512_slli_epi32(v1, 16)), e1[a]);
        o1[a] = _mm512_fmadd_ps(gb, _mm512_castsi512_ps(_mm512_and_si512(v1, odd_mask)), o1[a]);
      }
    }
    for (int a = 0; a < 4; ++a) {
      store_y<kStream>(y0 + i + a * 2 * kV, _mm512_permutex2var_ps(e0[a], lo, o0[a]));
      store_y<kStream>(y0 + i + a * 2 * kV + kV, _mm512_permutex2var_ps(e0[a], hi, o0[a]));
      store_y<kStream>(y1 + i + a * 2 * kV, _mm512_permutex2var_ps(e1[a], lo, o1[a]));
      store_y<kStream>(y1 + i + a * 2 * kV + kV, _mm512_permutex2var_ps(e1[a], hi, o1[a]));
    }
  }
  fff_gather_from(w0, g0, count, i, n, y0);
  fff_gather_from(w1, g1, count, i, n, y1);
}

#if defined(__GNUC__)
#define FFFBERT_TARGET_BF16 __attribute__((target("avx512bf16,avx512f,avx512bw,avx512vl,avx512dq")))
#else
#define FFFBERT_TARGET_BF16
#endif

constexpr int64_t kVh = 32;  // bf16 per vector

FFFBERT_TARGET_BF16 void fff_round_bf16(const float* x, int64_t n, uint16_t* out) {
  int64_t i = 0;
  for (; i + kVh <= n; i += kVh) {
    const __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + kV), _mm512_loadu_ps(x + i));
    _mm512_storeu_si512(out + i, (__m512i)h);
  }
  for (; i < n; ++i) out[i] = fff_f32_to_bf16_daz(x[i]);
}

template <int P, bool kShared>
FFFBERT_TARGET_BF16 void fff_dot_bf16x_p(const uint16_t* const* w, const uint16_t* const* x, int64_t n, float* out) {
  const int64_t np = (n + kVh - 1) / kVh * kVh;  // rows and x are zero-padded to whole chunks
  __m512 acc[P][4];
  for (int p = 0; p < P; ++p) {
    for (int a = 0; a < 4; ++a) acc[p][a] = _mm512_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 4 * kVh <= np; i += 4 * kVh) {
    for (int a = 0; a < 4; ++a) {
      const __m512i ws = _mm512_loadu_si512(w[0] + i + a * kVh);
      for (int p = 0; p < P; ++p) {
        const __m512i wv = kShared ? ws : _mm512_loadu_si512(w[p] + i + a * kVh);
        acc[p][a] = _mm512_dpbf16_ps(acc[p][a], (__m512bh)wv, (__m512bh)_mm512_loadu_si512(x[p] + i + a * kVh));
      }
    }
  }
  for (int a = 0; i + a * kVh < np; ++a) {
    const int64_t o = i + a * kVh;
    for (int p = 0; p < P; ++p) {
      const __m512i wv = _mm512_loadu_si512(w[kShared ? 0 : p] + o);
      acc[p][a] = _mm512_dpbf16_ps(acc[p][a], (__m512bh)wv, (__m512bh)_mm512_loadu_si512(x[p] + o));
    }
  }
  for (int p = 0; p < P; ++p) out[p] = hsum(acc[p][0], acc[p][1], acc[p][2], acc[p][3]);
}

template <bool kShared>
FFFBERT_TARGET_BF16 void fff_dot_bf16x_n(const uint16_t* const* w, const uint16_t* const* x, int count, int64_t n,
                                         float* out) {
  switch (count) {
    case 1: fff_dot_bf16x_p<1, kShared>(w, x, n, out); break;
    case 2: fff_dot_bf16x_p<2, kShared>(w, x, n, out); break;
    case 3: fff_dot_bf16x_p<3, kShared>(w, x, n, out); break;
    default: fff_dot_bf16x_p<4, kShared>(w, x, n, out); break;
  }
}

void fff_dot_bf16x(const uint16_t* const* w, const uint16_t* const* x, int count, int64_t n, float* out) {
  fff_dot_bf16x_n<false>(w, x, count, n, out);
}

void fff_dot_shared_bf16x(const uint16_t* w, const uint16_t* const* x, int count, int64_t n, float* out) {
  fff_dot_bf16x_n<true>(&w, x, count, n, out);
}

// walk1 for bf16_dot layers: x (bf16) in registers up to kXReg chunks of 32 (all of it up to n = 768). NC chunks
// (n = 32 NC); chunk c goes to accumulator c % 4, as in fff_dot_bf16x_p.
template <int NC>
FFFBERT_TARGET_BF16 void fff_walk1_bf16x_nc(const uint16_t* w, int64_t ld, const float* b, int64_t depth,
                                            const uint16_t* x, float* logits, int32_t* nodes) {
  constexpr int R = NC < kXReg ? NC : kXReg;
  __m512i xr[R];
#pragma GCC unroll 64  // as in fff_walk1_nv: no copy of x onto the stack
  for (int c = 0; c < R; ++c) xr[c] = _mm512_loadu_si512(x + c * kVh);
  int64_t node = 0;
  for (int64_t level = 0; level <= depth; ++level) {
    const uint16_t* row = w + node * ld;
    if (level < depth) fff_walk1_prefetch_children(w, ld, node);
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
#pragma GCC unroll 64
    for (int c = 0; c < NC; ++c) {
      const __m512i xv = c < R ? xr[c < R ? c : 0] : _mm512_loadu_si512(x + c * kVh);
      acc[c % 4] = _mm512_dpbf16_ps(acc[c % 4], (__m512bh)_mm512_loadu_si512(row + c * kVh), (__m512bh)xv);
    }
    node = fff_walk1_route(hsum(acc[0], acc[1], acc[2], acc[3]) + b[node], node, level, logits, nodes);
  }
}

FFFBERT_TARGET_BF16 bool fff_walk1_bf16x(const uint16_t* w, int64_t ld, const float* b, int64_t depth,
                                         const uint16_t* x, int64_t n, float* logits, int32_t* nodes) {
  switch (n) {
    case 512: fff_walk1_bf16x_nc<16>(w, ld, b, depth, x, logits, nodes); break;
    case 768: fff_walk1_bf16x_nc<24>(w, ld, b, depth, x, logits, nodes); break;
    case 1024: fff_walk1_bf16x_nc<32>(w, ld, b, depth, x, logits, nodes); break;
    default:  // any other width: the dot kernel (count 1) level after level
      fff_walk1_by_dot(w, ld, b, depth, x, n, logits, nodes, [](const uint16_t* row, const uint16_t* xp, int64_t len) {
        float d = 0.0f;
        fff_dot_bf16x(&row, &xp, 1, len, &d);
        return d;
      });
      break;
  }
  return true;
}

}  // namespace

const FffKernels& fff_kernels() {
  static const bool bf16_dot = cpu_features().avx512_bf16;
  static const FffKernels k{fff_dot<float>,
                            fff_dot_shared<float>,
                            fff_gather<float>,
                            fff_dot<uint16_t>,
                            fff_dot_shared<uint16_t>,
                            fff_gather_bf16<false>,
                            fff_gather2<false>,
                            fff_gather2_bf16<false>,
                            bf16_dot ? fff_round_bf16 : fff_round_bf16_rows,
                            bf16_dot ? fff_dot_bf16x : nullptr,
                            bf16_dot ? fff_dot_shared_bf16x : nullptr,
                            fff_walk1<float>,
                            fff_walk1<uint16_t>,
                            bf16_dot ? fff_walk1_bf16x : nullptr,
                            fff_gather<float, true>,
                            fff_gather_bf16<true>,
                            fff_gather2<true>,
                            fff_gather2_bf16<true>,
                            fff_gather4<false>,
                            fff_gather4<true>};
  return k;
}

}  // namespace avx512
}  // namespace fffbert
