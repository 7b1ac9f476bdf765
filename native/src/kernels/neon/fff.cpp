// FFF kernels, NEON on AArch64 (4 floats per vector, baseline: no extra flags).
//
// Dot order (fixed by n alone): 8 accumulators take consecutive vectors of 32-float blocks, the last block
// zero-padded; then ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) and a pairwise horizontal add. Eight
// chains cover a 4-cycle FMA latency on two pipes for one dependent dot. Dots run one at a time: with 2 or 3
// side by side (16-24 accumulators) GCC 12 spilled accumulators to the stack in the main loop (seen in the
// assembly; not timed: no arm64 machine here), so a row shared by several tokens is re-read from L1.
// bf16 rows: the same code with each 4-element load widened (USHLL #16, baseline NEON): bitwise the fp32
// kernels on the widened rows.
// bf16_dot layers (x rounded to bf16 too), where the CPU has FEAT_BF16 (HWCAP2_BF16): BFDOT takes 8 products per
// instruction into 4 fp32 lanes (one order fixed by n: 4 accumulators over consecutive 8-element vectors of
// 32-element blocks, rows and x zero-padded to 32; then (a0 + a1) + (a2 + a3) and a horizontal add). Those
// functions carry a target attribute and are called only when cpu_features().neon_bf16; x is rounded by the
// scalar rule (BFCVT would follow FPCR.FZ, not the flush-to-zero the rule needs). Tested under qemu-aarch64.
#include <arm_neon.h>

#include "fffbert/isa.h"
#include "kernels/fff_kernels.h"

#if defined(__GNUC__) && !defined(__clang__)
#define FFFBERT_NEON_BF16 1
#define FFFBERT_TARGET_BF16 __attribute__((target("arch=armv8.2-a+bf16")))
#elif defined(__clang__)
#define FFFBERT_NEON_BF16 1
#define FFFBERT_TARGET_BF16 __attribute__((target("bf16")))
#endif

namespace fffbert {
namespace neon {
namespace {

constexpr int64_t kV = 4;
constexpr int kAcc = 8;
constexpr int64_t kBlock = kAcc * kV;

// 4 row elements as fp32: an fp32 row is loaded as is, a bf16 row is widened exactly.
float32x4_t load_w(const float* p) { return vld1q_f32(p); }
float32x4_t load_w(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }

float hsum(float32x4_t a0, float32x4_t a1, float32x4_t a2, float32x4_t a3, float32x4_t a4, float32x4_t a5,
           float32x4_t a6, float32x4_t a7) {
  const float32x4_t s =
      vaddq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)), vaddq_f32(vaddq_f32(a4, a5), vaddq_f32(a6, a7)));
  const float32x2_t h = vadd_f32(vget_low_f32(s), vget_high_f32(s));
  return vget_lane_f32(vpadd_f32(h, h), 0);
}

template <typename W>
float fff_dot1(const W* w, const float* x, int64_t n) {
  float32x4_t acc[kAcc];
  for (int a = 0; a < kAcc; ++a) acc[a] = vdupq_n_f32(0.0f);
  // The last, partial block runs over zero-padded copies (+0 products), in the same loop: a separate tail
  // indexing acc kept it in memory, stored in every iteration (GCC 12, seen in the assembly).
  W wt[kBlock];
  float xt[kBlock];
  const int64_t whole = n - n % kBlock;
  for (int64_t i = 0; i < n; i += kBlock) {
    const W* wb = w + i;
    const float* xb = x + i;
    if (i == whole) {
      for (int64_t k = 0; k < kBlock; ++k) {
        wt[k] = i + k < n ? w[i + k] : W(0);
        xt[k] = i + k < n ? x[i + k] : 0.0f;
      }
      wb = wt;
      xb = xt;
    }
    for (int a = 0; a < kAcc; ++a) acc[a] = vfmaq_f32(acc[a], load_w(wb + a * kV), vld1q_f32(xb + a * kV));
  }
  return hsum(acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7]);
}

template <typename W>
void fff_dot(const W* const* w, const float* const* x, int count, int64_t n, float* out) {
  for (int t = 0; t < count; ++t) out[t] = fff_dot1(w[t], x[t], n);
}

template <typename W>
void fff_dot_shared(const W* w, const float* const* x, int count, int64_t n, float* out) {
  for (int t = 0; t < count; ++t) out[t] = fff_dot1(w, x[t], n);
}

// One token down one tree, any width: fff_dot1 (the dot kernels' own) level after level, routed by branch.
template <typename W>
bool fff_walk1(const W* w, int64_t ld, const float* b, int64_t depth, const float* x, int64_t n, float* logits,
               int32_t* nodes) {
  fff_walk1_by_dot(w, ld, b, depth, x, n, logits, nodes,
                   [](const W* row, const float* xp, int64_t len) { return fff_dot1(row, xp, len); });
  return true;
}

// Outputs [i, n) of fff_gather, one vector at a time.
template <typename W>
void fff_gather_from(const W* const* w, const float* g, int64_t count, int64_t i, int64_t n, float* y) {
  for (; i < n; i += kV) {
    float32x4_t a = vdupq_n_f32(0.0f);
    for (int64_t j = 0; j < count; ++j) a = vfmaq_f32(a, vdupq_n_f32(g[j]), load_w(w[j] + i));
    if (i + kV <= n) {
      vst1q_f32(y + i, a);
    } else {
      float buf[4];
      vst1q_f32(buf, a);
      for (int64_t e = 0; i + e < n; ++e) y[i + e] = buf[e];
    }
  }
}

// Output blocks of 4 vectors stay in registers over all rows: one load + one FMA per element and row, y
// written once.
template <typename W>
void fff_gather(const W* const* w, const float* g, int64_t count, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 4 * kV <= n; i += 4 * kV) {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t j = 0; j < count; ++j) {
      const float32x4_t gj = vdupq_n_f32(g[j]);
      const W* r = w[j] + i;
      a0 = vfmaq_f32(a0, gj, load_w(r));
      a1 = vfmaq_f32(a1, gj, load_w(r + kV));
      a2 = vfmaq_f32(a2, gj, load_w(r + 2 * kV));
      a3 = vfmaq_f32(a3, gj, load_w(r + 3 * kV));
    }
    vst1q_f32(y + i, a0);
    vst1q_f32(y + i + kV, a1);
    vst1q_f32(y + i + 2 * kV, a2);
    vst1q_f32(y + i + 3 * kV, a3);
  }
  fff_gather_from(w, g, count, i, n, y);
}

// Two tokens' gathers (gather2): blocks of 4 vectors for both (8 accumulators), a row both take at position j
// loaded once for the two FMAs; per element each y gets fff_gather's FMAs in its order: bitwise.
template <typename W>
void fff_gather2(const W* const* w0, const W* const* w1, const float* g0, const float* g1, int64_t count, int64_t n,
                 float* y0, float* y1) {
  int64_t i = 0;
  for (; i + 4 * kV <= n; i += 4 * kV) {
    float32x4_t a[4], b[4];
    for (int k = 0; k < 4; ++k) a[k] = b[k] = vdupq_n_f32(0.0f);
    for (int64_t j = 0; j < count; ++j) {
      const float32x4_t ga = vdupq_n_f32(g0[j]), gb = vdupq_n_f32(g1[j]);
      const W* r0 = w0[j] + i;
      const W* r1 = w1[j] + i;
      if (r0 == r1) {
        for (int k = 0; k < 4; ++k) {
          const float32x4_t v = load_w(r0 + k * kV);
          a[k] = vfmaq_f32(a[k], ga, v);
          b[k] = vfmaq_f32(b[k], gb, v);
        }
      } else {
        for (int k = 0; k < 4; ++k) {
          a[k] = vfmaq_f32(a[k], ga, load_w(r0 + k * kV));
          b[k] = vfmaq_f32(b[k], gb, load_w(r1 + k * kV));
        }
      }
    }
    for (int k = 0; k < 4; ++k) {
      vst1q_f32(y0 + i + k * kV, a[k]);
      vst1q_f32(y1 + i + k * kV, b[k]);
    }
  }
  fff_gather_from(w0, g0, count, i, n, y0);
  fff_gather_from(w1, g1, count, i, n, y1);
}

#if defined(FFFBERT_NEON_BF16)
constexpr int64_t kVh = 8;  // bf16 per vector

template <int P, bool kShared>
FFFBERT_TARGET_BF16 void fff_dot_bf16x_p(const uint16_t* const* w, const uint16_t* const* x, int64_t n, float* out) {
  const int64_t np = (n + 4 * kVh - 1) / (4 * kVh) * (4 * kVh);  // rows and x are zero-padded to 32
  float32x4_t acc[P][4];
  for (int p = 0; p < P; ++p) {
    for (int a = 0; a < 4; ++a) acc[p][a] = vdupq_n_f32(0.0f);
  }
  for (int64_t i = 0; i < np; i += 4 * kVh) {
    for (int a = 0; a < 4; ++a) {
      const bfloat16x8_t ws = vreinterpretq_bf16_u16(vld1q_u16(w[0] + i + a * kVh));
      for (int p = 0; p < P; ++p) {
        const bfloat16x8_t wv = kShared ? ws : vreinterpretq_bf16_u16(vld1q_u16(w[p] + i + a * kVh));
        acc[p][a] = vbfdotq_f32(acc[p][a], wv, vreinterpretq_bf16_u16(vld1q_u16(x[p] + i + a * kVh)));
      }
    }
  }
  for (int p = 0; p < P; ++p) {
    out[p] = vaddvq_f32(vaddq_f32(vaddq_f32(acc[p][0], acc[p][1]), vaddq_f32(acc[p][2], acc[p][3])));
  }
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

// walk1 for bf16_dot layers: the bf16 dot kernel (count 1) level after level.
FFFBERT_TARGET_BF16 bool fff_walk1_bf16x(const uint16_t* w, int64_t ld, const float* b, int64_t depth,
                                         const uint16_t* x, int64_t n, float* logits, int32_t* nodes) {
  fff_walk1_by_dot(w, ld, b, depth, x, n, logits, nodes, [](const uint16_t* row, const uint16_t* xp, int64_t len) {
    float d = 0.0f;
    fff_dot_bf16x_p<1, false>(&row, &xp, len, &d);
    return d;
  });
  return true;
}
#endif

}  // namespace

const FffKernels& fff_kernels() {
#if defined(FFFBERT_NEON_BF16)
  static const bool bf16_dot = cpu_features().neon_bf16;
  static const FffKernels k{fff_dot<float>,
                            fff_dot_shared<float>,
                            fff_gather<float>,
                            fff_dot<uint16_t>,
                            fff_dot_shared<uint16_t>,
                            fff_gather<uint16_t>,
                            fff_gather2<float>,
                            fff_gather2<uint16_t>,
                            fff_round_bf16_rows,
                            bf16_dot ? fff_dot_bf16x : nullptr,
                            bf16_dot ? fff_dot_shared_bf16x : nullptr,
                            fff_walk1<float>,
                            fff_walk1<uint16_t>,
                            bf16_dot ? fff_walk1_bf16x : nullptr,
                            nullptr,  // no streamed gathers (STNP is a hint only): y through the caches
                            nullptr,
                            nullptr,
                            nullptr,
                            nullptr,  // gather4: AVX-512 only
                            nullptr};
#else
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
                            nullptr,
                            nullptr,
                            nullptr,
                            nullptr,
                            nullptr,  // gather4: AVX-512 only
                            nullptr};
#endif
  return k;
}

}  // namespace neon
}  // namespace fffbert
