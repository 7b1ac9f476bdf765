// The FFF kernel table: the only ISA-specific code the FFF drivers (native/src/fff.cpp) call.
//
// One table per instruction set, each in its own file and namespace (kernels/<isa>/fff.cpp), compiled with that
// set's flags only. The drivers hold the walk logic (routing, GELU, paths, threads); kernels do the wide
// arithmetic, so every ISA routes with the same code. The one exception is walk1 (a token alone down a tree in one
// call, on AVX2, AVX-512 and NEON): it applies the drivers' routing rule (logit > 0 goes right, 0 and NaN left)
// itself, through fff_walk1_route below, and the test fff_one_token_walk_agrees_bitwise holds it to the other walks.
// GELU is the ISA's dense kernel (dense_kernels.h `gelu`).
//
// Layout the kernels may rely on (made by fff_create):
//   - weight rows (W_in rows, W_out^T rows) start 64-byte aligned and are zero-padded to kFffRowAlign elements
//     (fp32) or kFffRowAlignBf16 elements (bf16), so reading a whole vector past n (up to the padded stride) is
//     safe and adds zeros;
//   - activations x and outputs y are caller memory: never read or write past n there.
//
// bf16 weights (FffWeights::bf16) are the upper 16 bits of an fp32 (uint16_t here). Every kernel widens them
// to fp32 exactly (a 16-bit left shift) and then runs the very same arithmetic, in the same order, as its fp32
// kernel: a bf16 layer gives bitwise the result of the fp32 layer whose weights are the widened bf16 values.
// bf16_dot layers (FffWeights::bf16_dot) also round x to bf16 (round_bf16) and take the dots of two bf16 rows
// (dot_bf16x / dot_shared_bf16x: AVX512_BF16 VDPBF16PS); those two are null where the CPU has no bf16 dot, and
// the drivers then run dot_bf16 on x rounded and widened back to fp32 (the same products, all exact in fp32).
// x rows given to the bf16x dots are zero-padded to kFffRowAlignBf16 elements, like the weight rows.
#pragma once
#include <cstdint>
#include <cstring>

#include "fffbert/isa.h"
#include "prefetch.h"

namespace fffbert {

// Weight row stride granule in floats (64 bytes: one cache line, one AVX-512 vector).
constexpr int64_t kFffRowAlign = 16;
// The same for bf16 rows (64 bytes).
constexpr int64_t kFffRowAlignBf16 = 32;
// Most (row, token) pairs one dot call takes: the drivers interleave this many independent dots.
constexpr int kFffMaxDots = 4;

struct FffKernels {
  // out[t] = dot(w[t][0..n), x[t][0..n)) for t < count (1 <= count <= kFffMaxDots). Each ISA has one fixed
  // summation order that depends only on n, so out[t] is bitwise the same whatever count, position t or the
  // other pairs are, here and in dot_shared: per-token and batched walks agree bitwise.
  void (*dot)(const float* const* w, const float* const* x, int count, int64_t n, float* out);
  // out[t] = dot(w[0..n), x[t][0..n)) for t < count (1 <= count <= kFffMaxDots): tokens on one node, the row
  // read once for all of them. Bitwise equal to `dot`.
  void (*dot_shared)(const float* w, const float* const* x, int count, int64_t n, float* out);
  // y[0..n) = sum over j < count, in order j = 0, 1, ..., of g[j] * w[j][0..n) (starting from 0; y overwritten).
  // Per element this is the same sequence of multiply-adds as count successive axpys into y.
  void (*gather)(const float* const* w, const float* g, int64_t count, int64_t n, float* y);
  // The same three with bf16 weight rows, each bitwise equal to its fp32 kernel on the widened rows.
  void (*dot_bf16)(const uint16_t* const* w, const float* const* x, int count, int64_t n, float* out);
  void (*dot_shared_bf16)(const uint16_t* w, const float* const* x, int count, int64_t n, float* out);
  void (*gather_bf16)(const uint16_t* const* w, const float* g, int64_t count, int64_t n, float* y);
  // The gathers of two tokens (w0, g0 -> y0 and w1, g1 -> y1), each bitwise `gather`'s; a row both take at the same
  // position j (the same pointer: neighbours in leaf order share their upper rows) is read once for both. Null
  // where an ISA has none: the drivers then call gather twice.
  void (*gather2)(const float* const* w0, const float* const* w1, const float* g0, const float* g1, int64_t count,
                  int64_t n, float* y0, float* y1);
  void (*gather2_bf16)(const uint16_t* const* w0, const uint16_t* const* w1, const float* g0, const float* g1,
                       int64_t count, int64_t n, float* y0, float* y1);
  // out[0..n) = fff_f32_to_bf16_daz(x[0..n)), bitwise the scalar rule on every ISA.
  void (*round_bf16)(const float* x, int64_t n, uint16_t* out);
  // Dots of bf16 rows with bf16 activations (fp32 sums, one order fixed by n); null without a bf16 dot unit.
  void (*dot_bf16x)(const uint16_t* const* w, const uint16_t* const* x, int count, int64_t n, float* out);
  void (*dot_shared_bf16x)(const uint16_t* w, const uint16_t* const* x, int count, int64_t n, float* out);
  // One token down one tree of depth `depth`, x held in registers where it fits: from node 0, at each level
  // logits[level] = dot(w[node], x) + b[node] (the dot of `dot` / `dot_bf16x`, bitwise), nodes[level] = node, then
  // node = 2 node + 1 + (logit > 0). w: the tree's rows, stride ld; b: its biases. Returns false, having done
  // nothing, for a width n it has no code for (the drivers then walk with the dots); null where an ISA has none.
  bool (*walk1)(const float* w, int64_t ld, const float* b, int64_t depth, const float* x, int64_t n, float* logits,
                int32_t* nodes);
  bool (*walk1_bf16)(const uint16_t* w, int64_t ld, const float* b, int64_t depth, const float* x, int64_t n,
                     float* logits, int32_t* nodes);
  bool (*walk1_bf16x)(const uint16_t* w, int64_t ld, const float* b, int64_t depth, const uint16_t* x, int64_t n,
                      float* logits, int32_t* nodes);
  // gather, gather_bf16, gather2 and gather2_bf16 with y written past the caches (non-temporal stores of whole
  // cache lines), bitwise their cached versions. Callers pass y 64-byte aligned (each output row) and n a multiple
  // of 16, and issue a store fence (FFFBERT_STORE_FENCE) before another thread may read y. Null where an ISA has
  // none (scalar, NEON): the drivers then write through the caches.
  void (*gather_stream)(const float* const* w, const float* g, int64_t count, int64_t n, float* y);
  void (*gather_bf16_stream)(const uint16_t* const* w, const float* g, int64_t count, int64_t n, float* y);
  void (*gather2_stream)(const float* const* w0, const float* const* w1, const float* g0, const float* g1,
                         int64_t count, int64_t n, float* y0, float* y1);
  void (*gather2_bf16_stream)(const uint16_t* const* w0, const uint16_t* const* w1, const float* g0, const float* g1,
                              int64_t count, int64_t n, float* y0, float* y1);
  // The gathers of four tokens with fp32 rows (w[t], g[t] -> y[t] for t < 4), each bitwise `gather`'s; a row that
  // token t takes at position j as token t - 1 does (the same pointer: leaf-order neighbours share their upper rows)
  // is loaded once for both. The _stream form writes y as gather_stream does (each y[t] 64-byte aligned, n a multiple
  // of 16). Null where an ISA has none (all but AVX-512): the drivers then gather in pairs.
  void (*gather4)(const float* const* const* w, const float* const* g, int64_t count, int64_t n, float* const* y);
  void (*gather4_stream)(const float* const* const* w, const float* const* g, int64_t count, int64_t n,
                         float* const* y);
};

// Placed in one arm of an if, keeps the if a branch where GCC or Clang could turn it into a select (a conditional
// move).
#if defined(__GNUC__) || defined(__clang__)
#define FFFBERT_KEEP_BRANCH() __asm__ volatile("")
#else
#define FFFBERT_KEEP_BRANCH() ((void)0)
#endif

// What every walk1 does around its dot. Before it: the heads (first 64 elements) of both children's rows into L1,
// as the drivers' chains fetch them.
template <typename W>
inline void fff_walk1_prefetch_children(const W* w, int64_t ld, int64_t node) {
  for (int64_t c = 0; c < 64 * int64_t(sizeof(W)); c += 64) {
    FFFBERT_PREFETCH(reinterpret_cast<const char*>(w + (2 * node + 1) * ld) + c);
    FFFBERT_PREFETCH(reinterpret_cast<const char*>(w + (2 * node + 2) * ld) + c);
  }
}

// After it: logit l recorded and routed by the drivers' rule (> 0 right; 0 and NaN left); returns the next node.
// A branch, not a select: with a select the next row's address waits for this level's sum, with a branch the
// core loads the predicted child's row meanwhile (a wrong guess costs a flush, about what the wait cost). Zen 4,
// f32, 1 thread, native (bench/native/fff_one_token.cpp), ns per token, select -> branch: one x repeated 1035 ->
// 832; random order over 1024 / 16384 inputs (routes the predictor cannot learn) 1426 -> 1377 / 1998 -> 1925.
// 16-core Xeon, in one process alternating, branch / select: repeated 0.78-0.83, random 0.98-1.02. The drivers'
// multi-token chains keep their select: a branch per token there was slower (fff_stream, 4 / 128 tokens, 2
// threads, 3-8%).
inline int64_t fff_walk1_route(float l, int64_t node, int64_t level, float* logits, int32_t* nodes) {
  logits[level] = l;
  nodes[level] = int32_t(node);
  if (l > 0.0f) {
    FFFBERT_KEEP_BRANCH();
    return 2 * node + 2;
  }
  return 2 * node + 1;
}

// walk1 from a one-token dot: dot(row, x, n) must be the dot the drivers' chains take for a lone token (the ISA's
// dot kernel with count 1), so logits and paths are bitwise theirs. For the widths an ISA has no walk1 of its own
// for (one that holds x in registers), x read from L1 at every level.
template <typename W, typename X, typename Dot>
inline void fff_walk1_by_dot(const W* w, int64_t ld, const float* b, int64_t depth, const X* x, int64_t n,
                             float* logits, int32_t* nodes, Dot dot) {
  int64_t node = 0;
  for (int64_t level = 0; level <= depth; ++level) {
    const W* row = w + node * ld;
    if (level < depth) fff_walk1_prefetch_children(w, ld, node);
    node = fff_walk1_route(dot(row, x, n) + b[node], node, level, logits, nodes);
  }
}

// bf16 -> fp32, exact.
inline float fff_bf16_to_f32(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// fp32 -> bf16, round to nearest even; infinities stay, NaN stays a (quiet) NaN, overflow rounds to infinity.
inline uint16_t fff_f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

// The same with fp32 subnormals flushed to (signed) zero first, as VCVTNE2PS2BF16 and VDPBF16PS treat them: the
// rounding of x and of the weights in bf16_dot layers.
inline uint16_t fff_f32_to_bf16_daz(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7f800000u) == 0) return uint16_t(u >> 16 & 0x8000u);
  return fff_f32_to_bf16(f);
}

// round_bf16 for kernel sets without a conversion instruction.
inline void fff_round_bf16_rows(const float* x, int64_t n, uint16_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = fff_f32_to_bf16_daz(x[i]);
}

namespace scalar {
const FffKernels& fff_kernels();
}
namespace avx2 {
const FffKernels& fff_kernels();
}
namespace avx512 {
const FffKernels& fff_kernels();
}
namespace neon {
const FffKernels& fff_kernels();
}

// The table of `isa` where this build has its kernels (fff.cpp); null where it has none.
const FffKernels* fff_kernels_for(Isa isa);

}  // namespace fffbert
