// FFF kernels, AVX2 + FMA (8 floats per vector).
//
// Dot order (fixed by n alone): 8 accumulators take consecutive vectors of 64-float blocks; the vectors left
// after the last whole block (whole ones, then a partial one with a masked x load; the padded weight row reads
// zeros) go to accumulators 0, 1, ...; then ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) and a fixed
// horizontal sum. Eight chains: a walk's dependent dots are not FMA-latency bound (4 chains: +31% per dot,
// measured on the dependent chain of one token).
// Tokens sharing a row (batched walk) run side by side: the w vector is loaded once for all of them (per token:
// -31% with 2 tokens, -37% with 3, measured at I=768). 16 ymm registers cannot hold several tokens x 8
// accumulators, so those dots go over the row in passes, each pass owning a subset of the accumulators: every
// accumulator sees the same FMAs in the same order as in the single dot, so the results are bitwise equal.
// bf16 rows: the same templates with each 8-element load widened (VPMOVZXWD + VPSLLD 16): bitwise the fp32
// kernels on the widened rows.
#include <immintrin.h>

#include "kernels/fff_kernels.h"

namespace fffbert {
namespace avx2 {
namespace {

constexpr int64_t kV = 8;
constexpr int kAcc = 8;
constexpr int64_t kBlock = kAcc * kV;

// Lanes [0, rem) set, rem in [0, 8].
__m256i tail_mask(int64_t rem) {
  alignas(32) static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bits + 8 - rem));
}

// 8 row elements as fp32: an fp32 row is loaded as is, a bf16 row is widened exactly.
__m256 load_w(const float* p) { return _mm256_load_ps(p); }
__m256 load_w(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

float hsum(const __m256* a) {
  const __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3])),
                                 _mm256_add_ps(_mm256_add_ps(a[4], a[5]), _mm256_add_ps(a[6], a[7])));
  __m128 v = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  v = _mm_add_ps(v, _mm_movehl_ps(v, v));
  v = _mm_add_ss(v, _mm_movehdup_ps(v));
  return _mm_cvtss_f32(v);
}

// Accumulators [A0, A0 + AP) of the dots of T tokens with the row w; acc: [T][kAcc].
template <typename W, int T, int A0, int AP>
void fff_dot_pass(const W* w, const float* const* x, int64_t n, __m256 (*acc)[kAcc]) {
  __m256 r[T][AP];
  for (int t = 0; t < T; ++t) {
    for (int a = 0; a < AP; ++a) r[t][a] = _mm256_setzero_ps();
  }
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    for (int a = 0; a < AP; ++a) {
      const __m256 wv = load_w(w + i + (A0 + a) * kV);
      for (int t = 0; t < T; ++t) r[t][a] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[t] + i + (A0 + a) * kV), r[t][a]);
    }
  }
  // What is left after the whole blocks: vector j goes to accumulator j.
  for (int a = 0; a < AP; ++a) {
    const int64_t o = i + (A0 + a) * kV;
    if (o >= n) break;
    const __m256 wv = load_w(w + o);
    for (int t = 0; t < T; ++t) {
      const __m256 xv = o + kV <= n ? _mm256_loadu_ps(x[t] + o) : _mm256_maskload_ps(x[t] + o, tail_mask(n - o));
      r[t][a] = _mm256_fmadd_ps(wv, xv, r[t][a]);
    }
  }
  for (int t = 0; t < T; ++t) {
    for (int a = 0; a < AP; ++a) acc[t][A0 + a] = r[t][a];
  }
}

// Accumulators [A0, kAcc) of T tokens with one row, AP per pass (T * AP + 1 <= 16 registers).
template <typename W, int T, int AP, int A0 = 0>
void fff_dot_passes(const W* w, const float* const* x, int64_t n, __m256 (*acc)[kAcc]) {
  fff_dot_pass<W, T, A0, AP>(w, x, n, acc);
  if constexpr (A0 + AP < kAcc) fff_dot_passes<W, T, AP, A0 + AP>(w, x, n, acc);
}

template <typename W, int T, int AP>
void fff_dot_rows(const W* w, const float* const* x, int64_t n, float* out) {
  __m256 acc[T][kAcc];
  fff_dot_passes<W, T, AP>(w, x, n, acc);
  for (int t = 0; t < T; ++t) out[t] = hsum(acc[t]);
}

template <typename W>
void fff_dot(const W* const* w, const float* const* x, int count, int64_t n, float* out) {
  for (int t = 0; t < count; ++t) fff_dot_rows<W, 1, 8>(w[t], x + t, n, out + t);
}

template <typename W>
void fff_dot_shared(const W* w, const float* const* x, int count, int64_t n, float* out) {
  switch (count) {
    case 1: fff_dot_rows<W, 1, 8>(w, x, n, out); break;
    case 2: fff_dot_rows<W, 2, 4>(w, x, n, out); break;
    case 3: fff_dot_rows<W, 3, 4>(w, x, n, out); break;
    default: fff_dot_rows<W, 4, 2>(w, x, n, out); break;
  }
}

// One token down one tree, any width: fff_dot_rows<W, 1, 8> (the dot kernel's for a lone token) level after level.
template <typename W>
bool fff_walk1(const W* w, int64_t ld, const float* b, int64_t depth, const float* x, int64_t n, float* logits,
               int32_t* nodes) {
  fff_walk1_by_dot(w, ld, b, depth, x, n, logits, nodes, [](const W* row, const float* xp, int64_t len) {
    float d = 0.0f;
    fff_dot_rows<W, 1, 8>(row, &xp, len, &d);
    return d;
  });
  return true;
}

// A vector of y: through the caches, or (kStream) past them with a non-temporal store (the streamed gathers: y
// 64-byte aligned and the blocks whole lines, see fff_kernels.h).
template <bool kStream>
inline void store_y(float* p, __m256 v) {
  if constexpr (kStream) {
    _mm256_stream_ps(p, v);
  } else {
    _mm256_storeu_ps(p, v);
  }
}

// Outputs [i, n) of fff_gather, one vector at a time.
template <typename W>
void fff_gather_from(const W* const* w, const float* g, int64_t count, int64_t i, int64_t n, float* y) {
  for (; i < n; i += kV) {
    __m256 a = _mm256_setzero_ps();
    for (int64_t j = 0; j < count; ++j) a = _mm256_fmadd_ps(_mm256_set1_ps(g[j]), load_w(w[j] + i), a);
    if (i + kV <= n) {
      _mm256_storeu_ps(y + i, a);
    } else {
      _mm256_maskstore_ps(y + i, tail_mask(n - i), a);
    }
  }
}

// Output blocks of 8 vectors stay in registers over all rows: per row one broadcast and 8 load+FMAs, y written
// once. At I=O=768 the 12 rows (36 KB) come from L2 at best, which sets the pace (4 or 8 vectors: 317 vs 310 ns).
template <typename W, bool kStream = false>
void fff_gather(const W* const* w, const float* g, int64_t count, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    __m256 a[kAcc];
    for (int k = 0; k < kAcc; ++k) a[k] = _mm256_setzero_ps();
    for (int64_t j = 0; j < count; ++j) {
      const __m256 gj = _mm256_set1_ps(g[j]);
      const W* r = w[j] + i;
      for (int k = 0; k < kAcc; ++k) a[k] = _mm256_fmadd_ps(gj, load_w(r + k * kV), a[k]);
    }
    for (int k = 0; k < kAcc; ++k) store_y<kStream>(y + i + k * kV, a[k]);
  }
  fff_gather_from(w, g, count, i, n, y);
}

// Two tokens' gathers (gather2): blocks of 4 vectors for both (8 accumulators), a row both take at position j
// loaded once for the two FMAs; per element each y gets fff_gather's FMAs in its order: bitwise.
template <typename W, bool kStream = false>
void fff_gather2(const W* const* w0, const W* const* w1, const float* g0, const float* g1, int64_t count, int64_t n,
                 float* y0, float* y1) {
  constexpr int B = 4;
  int64_t i = 0;
  for (; i + B * kV <= n; i += B * kV) {
    __m256 a[B], b[B];
    for (int k = 0; k < B; ++k) a[k] = b[k] = _mm256_setzero_ps();
    for (int64_t j = 0; j < count; ++j) {
      const __m256 ga = _mm256_set1_ps(g0[j]), gb = _mm256_set1_ps(g1[j]);
      const W* r0 = w0[j] + i;
      const W* r1 = w1[j] + i;
      if (r0 == r1) {
        for (int k = 0; k < B; ++k) {
          const __m256 v = load_w(r0 + k * kV);
          a[k] = _mm256_fmadd_ps(ga, v, a[k]);
          b[k] = _mm256_fmadd_ps(gb, v, b[k]);
        }
      } else {
        for (int k = 0; k < B; ++k) {
          a[k] = _mm256_fmadd_ps(ga, load_w(r0 + k * kV), a[k]);
          b[k] = _mm256_fmadd_ps(gb, load_w(r1 + k * kV), b[k]);
        }
      }
    }
    for (int k = 0; k < B; ++k) {
      store_y<kStream>(y0 + i + k * kV, a[k]);
      store_y<kStream>(y1 + i + k * kV, b[k]);
    }
  }
  fff_gather_from(w0, g0, count, i, n, y0);
  fff_gather_from(w1, g1, count, i, n, y1);
}

}  // namespace

const FffKernels& fff_kernels() {
  static const FffKernels k{fff_dot<float>,
                            fff_dot_shared<float>,
                            fff_gather<float>,
                            fff_dot<uint16_t>,
                            fff_dot_shared<uint16_t>,
                            fff_gather<uint16_t>,
                            fff_gather2<float>,
                            fff_gather2<uint16_t>,
                            fff_round_bf16_rows,
                            nullptr,
                            nullptr,
                            fff_walk1<float>,
                            fff_walk1<uint16_t>,
                            nullptr,
                            fff_gather<float, true>,
                            fff_gather<uint16_t, true>,
                            fff_gather2<float, true>,
                            fff_gather2<uint16_t, true>,
                            nullptr,  // gather4: AVX-512 only (docs/PERFORMANCE.md: slower in 16 ymm)
                            nullptr};
  return k;
}

}  // namespace avx2
}  // namespace fffbert
