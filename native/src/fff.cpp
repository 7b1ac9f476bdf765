// FFF drivers: packing, the per-token and batched walks, threads. ISA-free: all wide arithmetic goes through
// the kernel table (kernels/fff_kernels.h), so routing and GELU are the same code for every ISA.
//
// A walk has two phases per token: (1) the D+1 dependent dots per tree, which fix the path and the logits;
// (2) GELU of the logits, then y = sum over the K*(D+1) visited nodes of g * W_out^T[row], one gather that keeps
// blocks of y in registers (two tokens at a time where the ISA has gather2, four in the planned walk where it has
// gather4: a row neighbours take is read once). Phase 2 is the same arithmetic in the same order whatever the
// strategy, and the dot kernels are bitwise independent of how dots are grouped, so strategies and thread counts
// agree bitwise.
//
// per_token: tokens walk as independent chains, kFffMaxDots side by side (their row fetches overlap).
// batched: depth first over each tree; the tokens reaching a node are contiguous in a permutation, so the node's
// W_in row is read once for all of them (several tokens per kernel call) and a subtree's activations stay in
// cache while its levels are walked; groups of at most kChainMax tokens continue as chains. Phase 2 then runs in
// leaf order, so neighbouring tokens share their upper W_out rows while they are hot. When a range's activations
// do not fit in L2, the top levels are walked first per block of tokens that does (two-phase walk, see
// forward_batched), then the tokens are regrouped by subtree.
// Threads: per_token takes contiguous token ranges (parallel_for), each walked on its own. batched walks the
// whole call over the pool (forward_planned): the top levels split by tokens, the subtrees below them handed out
// to the threads one at a time, so each lower row is read by one thread once per call; for calls of few tokens
// and trees too shallow to give every thread several subtrees, each thread walks a token range of its own
// (forward_batched).
//
// bf16 weights: the same walks, templated on the row element type W (float or uint16_t bf16); the kernels widen
// bf16 rows exactly and then do what the fp32 kernels do, so all of the above holds for bf16 layers too.
// bf16_dot layers: each walk first rounds its tokens' x to bf16 into scratch (kernel round_bf16), and the dots
// take those rows (activation type X = uint16_t, the CPU's bf16 dot); without a bf16 dot the rounded x is widened
// back to fp32 (X = float) for the bf16 kernels: the same products. Rounding happens per token, the same
// whatever the strategy or range, so the guarantees above hold.
#include "fffbert/fff.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <new>
#include <type_traits>
#include <vector>

#include "fff_profile.h"
#include "fff_tune.h"
#include "fffbert/memory.h"
#include "kernels/dense_kernels.h"
#include "kernels/fff_kernels.h"
#include "prefetch.h"

namespace fffbert {

namespace {

constexpr int64_t kMaxWidth = int64_t(1) << 40;
constexpr int64_t kMaxBytes = int64_t(1) << 46;

template <typename T>
struct AlignedFree {
  void operator()(T* p) const { free_aligned(p); }
};
template <typename T>
using AlignedArray = std::unique_ptr<T[], AlignedFree<T>>;

// Zeroed, 64-byte aligned, on huge pages where the OS gives them (memory.h: the walk's scattered row reads
// otherwise miss the TLB).
template <typename T>
AlignedArray<T> alloc_zeroed(int64_t count) {
  T* p = static_cast<T*>(alloc_aligned(size_t(count) * sizeof(T)));
  if (p) std::memset(p, 0, size_t(count) * sizeof(T));
  return AlignedArray<T>(p);
}

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

}  // namespace

struct FffLayer {
  FffShape shape;
  FffWeights weights;
  int64_t rows;  // K * n_nodes
  // Node r's rows side by side: w[r * ld, + I) its W_in row, then from out_offset (I rounded up to kFffRowAlign
  // (fp32) or kFffRowAlignBf16 (bf16)) w[r * ld + out_offset, + O) its W_out^T row (column r of
  // linear_out.weight), zero padding after each; ld is out_offset + O rounded up likewise. A walk reads a node's
  // W_out row soon after its W_in row, and one contiguous 6 KB block per node (I = O = 768, fp32) lets the
  // hardware prefetcher run on from one into the other: two separate arrays made that two 3 KB blocks far apart.
  // bf16 layers hold the same in w_bf16 (rounded to nearest even) instead of w.
  int64_t ld;
  int64_t out_offset;
  AlignedArray<float> w;
  AlignedArray<uint16_t> w_bf16;
  std::vector<float> b_in;  // [rows], fp32 for both
  mutable FffTuner tuner;   // the automatic strategy's timings (fff_tune.h)
};

namespace {

// linear_in.weight [rows, I] -> w_in rows, linear_out.weight [O, rows] -> w_out rows (both of stride L.ld), in 64-row
// tiles so both sides stay in cache. cvt: float -> T.
template <typename T, typename Cvt>
void pack_weights(const FffLayer& L, const float* linear_in_weight, const float* linear_out_weight, T* w_in, T* w_out,
                  Cvt cvt) {
  const int64_t I = L.shape.input_width, O = L.shape.output_width, rows = L.rows;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < I; ++i) w_in[r * L.ld + i] = cvt(linear_in_weight[r * I + i]);
  }
  constexpr int64_t kTile = 64;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
    const int64_t r1 = std::min(rows, r0 + kTile);
    for (int64_t o = 0; o < O; ++o) {
      const float* src = linear_out_weight + o * rows;
      for (int64_t r = r0; r < r1; ++r) w_out[r * L.ld + o] = cvt(src[r]);
    }
  }
}

}  // namespace

void FffLayerDeleter::operator()(FffLayer* p) const { delete p; }

FffLayerPtr fff_create(const FffShape& s, const float* linear_in_weight, const float* linear_in_bias,
                       const float* linear_out_weight, FffWeights weights) {
  if (!linear_in_weight || !linear_in_bias || !linear_out_weight) return nullptr;
  if (weights != FffWeights::f32 && weights != FffWeights::bf16 && weights != FffWeights::bf16_dot) return nullptr;
  const bool bf16 = weights != FffWeights::f32;
  if (s.input_width < 1 || s.output_width < 1 || s.depth < 0 || s.trees < 1) return nullptr;
  if (s.depth > kFffMaxDepth || s.input_width > kMaxWidth || s.output_width > kMaxWidth) return nullptr;
  const int64_t nn = s.nodes_per_tree();
  if (s.trees > kMaxBytes / nn) return nullptr;
  const int64_t rows = s.trees * nn;
  const int64_t align = bf16 ? kFffRowAlignBf16 : kFffRowAlign;
  const int64_t out_offset = round_up(s.input_width, align);
  const int64_t ld = out_offset + round_up(s.output_width, align);
  if (ld + 1 > kMaxBytes / 4 / rows) return nullptr;

  FffLayerPtr L(new (std::nothrow) FffLayer{s, weights, rows, ld, out_offset, nullptr, nullptr, {}, {}});
  if (!L) return nullptr;
  try {
    L->b_in.assign(linear_in_bias, linear_in_bias + rows);
  } catch (const std::bad_alloc&) { return nullptr; }
  if (bf16) {
    L->w_bf16 = alloc_zeroed<uint16_t>(rows * ld);
    if (!L->w_bf16) return nullptr;
    pack_weights(*L, linear_in_weight, linear_out_weight, L->w_bf16.get(), L->w_bf16.get() + out_offset,
                 weights == FffWeights::bf16_dot ? fff_f32_to_bf16_daz : fff_f32_to_bf16);
  } else {
    L->w = alloc_zeroed<float>(rows * ld);
    if (!L->w) return nullptr;
    pack_weights(*L, linear_in_weight, linear_out_weight, L->w.get(), L->w.get() + out_offset,
                 [](float v) { return v; });
  }
  return L;
}

const FffShape& fff_shape(const FffLayer& layer) { return layer.shape; }

FffWeights fff_weights(const FffLayer& layer) { return layer.weights; }

int64_t fff_weight_bytes(const FffLayer& layer) {
  const int64_t element = layer.weights == FffWeights::f32 ? 4 : 2;
  return layer.rows * (element * layer.ld + int64_t(sizeof(float)));
}

const FffKernels* fff_kernels_for(Isa isa) {
  switch (isa) {
    case Isa::scalar: return &scalar::fff_kernels();
#if defined(FFFBERT_HAVE_AVX2)
    case Isa::avx2: return &avx2::fff_kernels();
#endif
#if defined(FFFBERT_HAVE_AVX512)
    case Isa::avx512: return &avx512::fff_kernels();
#endif
#if defined(FFFBERT_HAVE_NEON)
    case Isa::neon: return &neon::fff_kernels();
#endif
    default: return nullptr;
  }
}

namespace {

// The first `count` elements of a weight row, into L1 (or, with kL2, into L2 only).
template <bool kL2 = false, typename W>
void prefetch_row(const W* p, int64_t count) {
  const char* c = reinterpret_cast<const char*>(p);
  for (int64_t b = 0; b < count * int64_t(sizeof(W)); b += 64) {
    if constexpr (kL2) {
      FFFBERT_PREFETCH_L2(c + b);
    } else {
      FFFBERT_PREFETCH(c + b);
    }
  }
}

// `automatic` walks per token below this many rows (a batched walk of so few shares next to nothing), and from
// it on takes whichever walk the layer's tuner has timed faster for calls of that size and thread count
// (fff_tune.h). It replaced a fixed rule (per-token below 16 rows per thread, measured where it switched on the
// 16-core Xeon and the Zen 4 VM), which was right on average and wrong by up to 2x where the threads' placement
// or the weight type moved the balance (fff_tune.h has the figures).
constexpr int64_t kTuneMinRows = 16;
// Most tokens one batched walk sorts at once (bounds the scratch: [tokens, K*(D+1)] values and row pointers).
constexpr int64_t kBatchMax = 4096;

// Groups of at most this many tokens leave the depth-first walk and continue as independent chains: too few to
// share a row, and chains overlap their row fetches. (4 and 16 timed the same at 2048 tokens.)
constexpr int64_t kChainMax = 4;

// Two-phase batched walk. Depth first over a whole range, the upper levels stream the activations of all its
// tokens (2048 x 3 KB at I=768) through L2 at every level; instead, when they exceed kTwoPhaseMinBytes, blocks of
// about kTopBlockBytes of activations walk the top kTopLevels levels (whose rows, 63 x 3 KB at I=768, stay in L2
// meanwhile), then the tokens are regrouped by the subtree they reached and walk it depth first. Results are
// bitwise the same (every dot is the same kernel call on the same row and token). I=O=768, D=11, 1 thread,
// median (min) us/token, in one process: 2048 tokens f32 5.57 (2.76) -> 5.40 (2.66), bf16 5.01 (2.31) -> 4.56
// (2.24); 512 tokens f32 4.35 -> 4.08, bf16 3.30 -> 3.14; cachegrind with a 512 KB last level: L2 read misses
// per token at 2048 tokens f32 417 -> 262 lines, bf16 335 -> 177. At 128 tokens (384 KB, which fits) medians
// and minima disagreed, so it stays off there.
constexpr int64_t kTopLevels = 6;
constexpr int64_t kTopBlockBytes = 192 << 10;
constexpr int64_t kTwoPhaseMinBytes = 512 << 10;
// The planned batched walk (forward_planned) takes at most this many tokens at once (bounds the scratch), and
// splits them into at least this many subtrees per thread (for balance: subtrees are handed out one at a time);
// with fewer subtrees than that (shallow trees), each thread walks a token range of its own (forward_batched).
// Below kPlanMinRows tokens the lower rows are nearly all distinct per token, so reading them once per call
// saves little, and the plan's two extra synchronisations cost more on a busy machine: each thread walks its
// token range (2 threads, 128 tokens, same-process A/B under load: planned 1.25-1.33x slower).
constexpr int64_t kPlanMax = 16384;
constexpr int64_t kPlanGroupsPerThread = 8;
// The top levels of the planned walk go out in blocks of tokens (plan_blocks), guided: each block takes 1 /
// (kPlanGuide * threads) of the tokens left (at most kTopBlockBytes of activations, at least 16 tokens). History,
// 16-core Xeon, 2048 tokens: one block per thread (as parallel_for splits) left phase A's wall time 1.15 / 1.36 /
// 1.47x the threads' mean busy time at 4 / 8 / 16 threads; four equal blocks per thread (32 tokens at 16
// threads) brought f32 16 threads 166 -> 157 ns/token, bf16-dot 153 -> 142. Guided blocks then keep the first
// blocks at 64 tokens (more top rows shared: phase A's busy time summed over 16 threads 1646 -> 1565 us per
// call) and end on 16-token ones; with one pool, phase A's wall time is 1.11x the mean busy time, of which ~3 us
// is the workers' start and ~6 us their end (a traced build, kPlanGuide 2). In one process against four equal blocks
// (scripts/ab-native.sh's ab_fff, B / A, two runs): f32 2048 tokens 16 threads 0.943 / 0.981 / 0.952 / 0.938,
// 8 threads 0.973 / 0.887 / 1.007 / 0.978, bf16-dot 16 threads 0.967 / 0.974 (kPlanGuide 2: 0.97-0.99, 0.94-1.01;
// 4: 0.93-1.02). Zen 4 2 threads: 1.008 f32, 0.944 bf16-dot (blocks there are 64 tokens either way but the last).
constexpr int64_t kPlanGuide = 1;
constexpr int64_t kPlanMinRows = 256;
// Levels walked before the split, at least: 127 W_in rows at I=768 (381 KB fp32: fits a 1 MB L2 beside a block
// of activations). 16-core Xeon, native loop, batched, median us/token of two runs, top 6 -> 7: 2048 tokens
// 1 thread 1.96/1.67 -> 1.37/1.38, 2 threads 0.80/0.97 -> 0.75/0.73, 16 threads 0.19/0.18 -> 0.17/0.14; 512
// tokens 2 threads 1.02/1.07 -> 0.85/0.84; bf16 2048 tokens 2 threads 0.73/0.90 -> 0.71/0.72 (top 5 between).
// Zen 4 (1 MB L2): 1 thread alike (1.92 vs 1.90 at 2048 tokens, A/B); cachegrind with a 1 MB last level: L2
// misses +0.9%. Streaming y past the caches (non-temporal stores) was slower on the Xeon (2 threads, 2048
// tokens: 1.34-1.66 against 0.77-0.85 us).
constexpr int64_t kPlanTopLevels = 7;

// The kernels of one weight row type W (float, or uint16_t for bf16) and activation type X (float, or uint16_t
// for bf16 activations).
template <typename W, typename X>
struct RowKernels {
  void (*dot)(const W* const* w, const X* const* x, int count, int64_t n, float* out);
  void (*dot_shared)(const W* w, const X* const* x, int count, int64_t n, float* out);
  void (*gather)(const W* const* w, const float* g, int64_t count, int64_t n, float* y);
  void (*gather2)(const W* const* w0, const W* const* w1, const float* g0, const float* g1, int64_t count, int64_t n,
                  float* y0, float* y1);
  bool (*walk1)(const W* w, int64_t ld, const float* b, int64_t depth, const X* x, int64_t n, float* logits,
                int32_t* nodes);
  // gather and gather2 writing y past the caches (fff_kernels.h); null where the ISA has none.
  void (*gather_stream)(const W* const* w, const float* g, int64_t count, int64_t n, float* y);
  void (*gather2_stream)(const W* const* w0, const W* const* w1, const float* g0, const float* g1, int64_t count,
                         int64_t n, float* y0, float* y1);
  // Four tokens' gathers (fff_kernels.h), cached and streamed; fp32 rows only (null for bf16 rows, whose gathers are
  // bound by their widening and FMAs rather than by loading rows, so sharing more of them gains little).
  void (*gather4)(const W* const* const* w, const float* const* g, int64_t count, int64_t n, float* const* y);
  void (*gather4_stream)(const W* const* const* w, const float* const* g, int64_t count, int64_t n, float* const* y);
};

RowKernels<float, float> row_kernels(const FffKernels& k, const float*, const float*) {
  return {k.dot,           k.dot_shared,     k.gather,  k.gather2,       k.walk1,
          k.gather_stream, k.gather2_stream, k.gather4, k.gather4_stream};
}
RowKernels<uint16_t, float> row_kernels(const FffKernels& k, const uint16_t*, const float*) {
  return {k.dot_bf16,           k.dot_shared_bf16,     k.gather_bf16, k.gather2_bf16, k.walk1_bf16,
          k.gather_bf16_stream, k.gather2_bf16_stream, nullptr,       nullptr};
}
RowKernels<uint16_t, uint16_t> row_kernels(const FffKernels& k, const uint16_t*, const uint16_t*) {
  return {k.dot_bf16x,          k.dot_shared_bf16x,    k.gather_bf16, k.gather2_bf16, k.walk1_bf16x,
          k.gather_bf16_stream, k.gather2_bf16_stream, nullptr,       nullptr};
}

// Scratch entries per token come in groups of this many (64 bytes of logits). 16-core Xeon, streamed, 14
// alternating pairs (fff_stream), median time ratio aligned groups / packed entries: 2048 tokens f32 16 / 8 / 4
// threads 0.969 / 0.976 / 0.987, bf16-dot 16 / 8 threads 0.982 / 0.981, 512 tokens f32 16 threads 0.967. Zen 4 VM,
// 2 threads, 10 pairs: f32 1.008, bf16-dot 1.005 (no change).
constexpr int64_t kScratchAlign = 16;

template <typename W, typename X = float>
struct Ctx {
  const FffLayer& L;
  RowKernels<W, X> kern;
  const W* w_in;     // node r's W_in row at w_in + r * L.ld
  const W* w_out;    // node r's W_out^T row at w_out + r * L.ld
  const float* src;  // the caller's x [rows, ld_src]
  int64_t ld_src;
  const X* x;  // what the dots read: src, or (round_x) the walk's rounded copy in scratch
  int64_t ldx;
  float* y;
  int64_t ldy;
  int32_t* paths;
  int64_t t0;                                                 // global index of local token 0
  int64_t nn;                                                 // nodes per tree
  int64_t P;                                                  // K*(D+1) visited nodes per token
  void (*round_x)(const float* x, int64_t n, uint16_t* out);  // bf16_dot layers: kernel round_bf16; else null
  int64_t x_t0;  // global index of the token in row 0 of x (t0 for the caller's x, the first local token for a copy)
  void (*gelu)(const float* x, float* y, int64_t n) = nullptr;  // the ISA's dense GELU kernel (in place)
  int64_t ldl = round_up(P, kScratchAlign);                     // a token's entries in the scratch's logits and rows
  // y written past the caches (kern.gather_stream / gather2_stream; fff_streams_output). Every task or range that
  // gathers then ends with FFFBERT_STORE_FENCE (end_outputs), before the pool counts it done.
  bool stream_y = false;
};

// The end of a task or range that wrote outputs: streamed stores made visible before the caller reads y.
template <typename W, typename X>
inline void end_outputs(const Ctx<W, X>& c) {
  if (c.stream_y) FFFBERT_STORE_FENCE();
}

// Per-thread scratch, grown on demand and reused across calls. A token's logits and output rows start on a cache
// line and take kScratchAlign entries per group (c.ldl = P rounded up): the planned walk's threads write the
// entries of tokens in any order, and tokens packed side by side would share lines between threads.
struct Scratch {
  std::vector<float> l;                        // [tokens, ldl] logits, then GELU values (through logits())
  std::vector<const float*> out_rows;          // [tokens, ldl] W_out^T rows, in visiting order (fp32; through rows())
  std::vector<const uint16_t*> out_rows_bf16;  // the same for bf16 layers
  std::vector<int32_t> perm, tmp;              // local token order, grouped by subtree (batched)
  std::vector<int32_t> node;                   // [tokens] node reached after the top levels (two-phase batched walk)
  std::vector<int32_t> group_end;              // [2^top + 1] tokens per top-level subtree, then where each group ends
  std::vector<int32_t> order;                  // [2^top] the groups, largest first (planned walk)
  std::vector<int32_t> by_size;                // largest_first's count of groups per size
  std::vector<int32_t> a_start;  // the planned walk's top-level blocks: block i is [a_start[i], a_start[i+1])
  std::vector<uint16_t> xb;      // bf16_dot: [tokens, ld] x rounded to bf16, zero-padded
  std::vector<float> xw;         // bf16_dot without a bf16 dot unit: the same widened back to fp32
  std::vector<const float*>& rows_vec(const float*) { return out_rows; }
  std::vector<const uint16_t*>& rows_vec(const uint16_t*) { return out_rows_bf16; }
  float* logits() { return on_cache_line(l.data()); }
  template <typename W>
  const W** rows(const W* w) {
    return on_cache_line(rows_vec(w).data());
  }
  // Room for n entries of v from its first 64-byte boundary on (up to 64 bytes in).
  template <typename T>
  static void grow_aligned(std::vector<T>& v, int64_t n) {
    const size_t want = size_t(n) + 64 / sizeof(T);
    if (v.size() < want) v.resize(want);
  }
  // Room for `tokens` tokens of ldl entries each, in logits() and rows().
  template <typename W>
  void reserve(int64_t tokens, int64_t ldl) {
    grow_aligned(l, tokens * ldl);
    grow_aligned(rows_vec(static_cast<const W*>(nullptr)), tokens * ldl);
    if (int64_t(perm.size()) < tokens) {
      perm.resize(size_t(tokens));
      tmp.resize(size_t(tokens));
      node.resize(size_t(tokens));
    }
  }
};

Scratch& thread_scratch() {
  thread_local Scratch s;
  return s;
}

// bf16_dot layers: sizes the scratch copy of x for `count` tokens and points c.x at it, row 0 = global token t.
// round_rows fills it; together they are round_tokens.
template <typename W, typename X>
void prepare_rounded(Ctx<W, X>& c, Scratch& s, int64_t t, int64_t count) {
  const int64_t ld = round_up(c.L.shape.input_width, kFffRowAlignBf16);
  if (int64_t(s.xb.size()) < count * ld) s.xb.resize(size_t(count * ld));
  if constexpr (std::is_same_v<X, uint16_t>) {
    c.x = s.xb.data();
  } else {
    if (int64_t(s.xw.size()) < count * ld) s.xw.resize(size_t(count * ld));
    c.x = s.xw.data();
  }
  c.ldx = ld;
  c.x_t0 = t;
}

// Rows [b0, b1) of the copy prepare_rounded made: x of global token x_t0 + b rounded to bf16 (and widened back to
// fp32 where the dots take fp32). Threads may fill disjoint rows at once.
template <typename W, typename X>
void round_rows(const Ctx<W, X>& c, Scratch& s, int64_t b0, int64_t b1) {
  const int64_t I = c.L.shape.input_width, ld = c.ldx;
  for (int64_t b = b0; b < b1; ++b) {
    uint16_t* row = &s.xb[size_t(b * ld)];
    c.round_x(c.src + (c.x_t0 + b) * c.ld_src, I, row);
    std::fill(row + I, row + ld, uint16_t(0));  // the kernels read whole 32-element chunks
    if constexpr (!std::is_same_v<X, uint16_t>) {
      for (int64_t i = 0; i < ld; ++i) s.xw[size_t(b * ld + i)] = fff_bf16_to_f32(row[i]);
    }
  }
}

// bf16_dot layers: rounds x of global tokens [t, t + count) into scratch and points c.x at it, row 0 = token t.
template <typename W, typename X>
void round_tokens(Ctx<W, X>& c, Scratch& s, int64_t t, int64_t count) {
  if (!c.round_x) return;
  prepare_rounded(c, s, t, count);
  round_rows(c, s, 0, count);
}

template <typename W, typename X>
const W* in_row(const Ctx<W, X>& c, int64_t k, int32_t n) {
  return c.w_in + (k * c.nn + n) * c.L.ld;
}

// Records node n of tree k at `level` as visited by local token b: its output row, and its path entry.
template <typename W, typename X>
inline void record(const Ctx<W, X>& c, Scratch& s, int64_t b, int64_t k, int64_t level, int32_t n) {
  const int64_t j = k * (c.L.shape.depth + 1) + level;
  s.rows(c.w_out)[size_t(b * c.ldl + j)] = c.w_out + (k * c.nn + n) * c.L.ld;
  if (c.paths) c.paths[(c.t0 + b) * c.P + j] = n;
}

// Records node n of tree k at `level` for local token b, with its logit; returns the child (l == 0 and NaN go
// left).
template <typename W, typename X>
inline int32_t visit(const Ctx<W, X>& c, Scratch& s, int64_t b, int64_t k, int64_t level, int32_t n, float dot) {
  const float l = dot + c.L.b_in[size_t(k * c.nn + n)];
  s.logits()[size_t(b * c.ldl + k * (c.L.shape.depth + 1) + level)] = l;
  record(c, s, b, k, level, n);
  return 2 * n + 1 + (l > 0.0f ? 1 : 0);
}

// Local tokens toks[0, count), all at node n0 of tree k at level0, walked down to level_end (exclusive; D + 1:
// to the leaves) as independent chains, kFffMaxDots side by side so their row fetches overlap. Stopping above
// the leaves, each token's next node goes to s.node.
template <typename W, typename X>
void walk_chains(const Ctx<W, X>& c, Scratch& s, const int32_t* toks, int64_t count, int64_t k, int32_t n0,
                 int64_t level0, int64_t level_end) {
  const FffLayer& L = c.L;
  const int64_t I = L.shape.input_width, D = L.shape.depth;
  const X* xs[kFffMaxDots];
  const W* ws[kFffMaxDots];
  float dots[kFffMaxDots];
  int32_t node[kFffMaxDots];
  for (int64_t q = 0; q < count; q += kFffMaxDots) {
    const int cnt = int(std::min<int64_t>(kFffMaxDots, count - q));
    for (int b = 0; b < cnt; ++b) {
      node[b] = n0;
      xs[b] = c.x + (c.t0 - c.x_t0 + toks[q + b]) * c.ldx;
    }
    for (int64_t level = level0; level < level_end; ++level) {
      for (int b = 0; b < cnt; ++b) {
        ws[b] = in_row(c, k, node[b]);
        // The head of both candidate rows of the next level and of this node's output row; the hardware
        // prefetcher streams the rest. Whole rows cost more than they saved (1 token, I=768, medians from cold
        // rows: 6.2 us with whole rows, 5.1 with none, 4.9 with these heads; from hot rows 3.3 vs 1.8 us).
        if (level < D) {
          prefetch_row(ws[b] + (node[b] + 1) * L.ld, std::min<int64_t>(I, 64));
          prefetch_row(ws[b] + (node[b] + 2) * L.ld, std::min<int64_t>(I, 64));
        }
        prefetch_row(c.w_out + (k * c.nn + node[b]) * L.ld, std::min<int64_t>(L.shape.output_width, 32));
      }
      c.kern.dot(ws, xs, cnt, I, dots);
      for (int b = 0; b < cnt; ++b) node[b] = visit(c, s, toks[q + b], k, level, node[b], dots[b]);
    }
    if (level_end <= D) {
      for (int b = 0; b < cnt; ++b) s.node[size_t(toks[q + b])] = node[b];
    }
  }
}

// Local tokens perm[q0, q1), all at node n of tree k at `level`: depth first over the subtree down to level_end
// (exclusive; D + 1: to the leaves), each node's row read once for all the tokens that reach it (kFffMaxDots
// per kernel call), and the tokens of a subtree contiguous in perm so their activations stay in cache while its
// levels are walked. Small groups continue as chains. Stopping above the leaves, each token's node at level_end
// goes to s.node.
template <typename W, typename X>
void walk_subtree(const Ctx<W, X>& c, Scratch& s, int64_t q0, int64_t q1, int64_t k, int32_t n, int64_t level,
                  int64_t level_end) {
  if (level == level_end) {
    for (int64_t q = q0; q < q1; ++q) s.node[size_t(s.perm[size_t(q)])] = n;
    return;
  }
  if (q1 - q0 <= kChainMax) {
    walk_chains(c, s, &s.perm[size_t(q0)], q1 - q0, k, n, level, level_end);
    return;
  }
  const FffLayer& L = c.L;
  const int64_t I = L.shape.input_width, D = L.shape.depth;
  const W* w = in_row(c, k, n);
  // Both children's rows, whole, into L2, not L1: rows at addresses the hardware prefetcher cannot guess come
  // faster that way (bench/native/row_read.cpp, Zen 4, 1 thread, 3 KB rows in random order from 64 MB: 11-13 GB/s
  // without a prefetch, 11-12 with each row prefetched into L1 one or four rows ahead, 19-21 into L2; 32-47 in
  // address order). Streamed, 2 threads, paired alternating runs, median time ratio L2 / L1: 2048 tokens f32 0.973
  // (16 pairs), bf16-dot 0.982 (12); 128 tokens f32 0.991 (12).
  if (level + 1 < level_end) {
    prefetch_row<true>(w + (n + 1) * L.ld, I);
    prefetch_row<true>(w + (n + 2) * L.ld, I);
  }
  const X* xs[kFffMaxDots];
  float dots[kFffMaxDots];
  // Stable split into s.tmp: left-going tokens from the front, right-going ones from the back (reversed).
  int64_t left = 0, right = 0;
  for (int64_t q = q0; q < q1; q += kFffMaxDots) {
    const int cnt = int(std::min<int64_t>(kFffMaxDots, q1 - q));
    for (int b = 0; b < cnt; ++b) xs[b] = c.x + (c.t0 - c.x_t0 + s.perm[size_t(q + b)]) * c.ldx;
    c.kern.dot_shared(w, xs, cnt, I, dots);
    for (int b = 0; b < cnt; ++b) {
      const int32_t tok = s.perm[size_t(q + b)];
      if (visit(c, s, tok, k, level, n, dots[b]) & 1) {  // left child 2n+1 is odd
        s.tmp[size_t(q0 + left++)] = tok;
      } else {
        s.tmp[size_t(q1 - 1 - right++)] = tok;
      }
    }
  }
  if (level == D) return;
  for (int64_t q = q0; q < q0 + left; ++q) s.perm[size_t(q)] = s.tmp[size_t(q)];
  for (int64_t i = 0; i < right; ++i) s.perm[size_t(q0 + left + i)] = s.tmp[size_t(q1 - 1 - i)];
  if (left > 0) walk_subtree(c, s, q0, q0 + left, k, 2 * n + 1, level + 1, level_end);
  if (left < q1 - q0) walk_subtree(c, s, q0 + left, q1, k, 2 * n + 2, level + 1, level_end);
}

// Phase 2 for local token b: GELU of its logits, then y = sum of g * W_out^T rows.
template <typename W, typename X>
void finish_token(const Ctx<W, X>& c, Scratch& s, int64_t b) {
  float* g = &s.logits()[size_t(b * c.ldl)];
  c.gelu(g, g, c.P);
  (c.stream_y ? c.kern.gather_stream : c.kern.gather)(&s.rows(c.w_out)[size_t(b * c.ldl)], g, c.P,
                                                      c.L.shape.output_width, c.y + (c.t0 + b) * c.ldy);
}

// Phase 2 for local tokens a and b together (the kernel's gather2: a row both take at the same level is read once
// for both; bitwise the two finish_token calls), or one after the other where the ISA has no gather2.
template <typename W, typename X>
void finish_pair(const Ctx<W, X>& c, Scratch& s, int64_t a, int64_t b) {
  if (!c.kern.gather2 || (c.stream_y && !c.kern.gather2_stream)) {
    finish_token(c, s, a);
    finish_token(c, s, b);
    return;
  }
  float* ga = &s.logits()[size_t(a * c.ldl)];
  float* gb = &s.logits()[size_t(b * c.ldl)];
  c.gelu(ga, ga, c.P);
  c.gelu(gb, gb, c.P);
  (c.stream_y ? c.kern.gather2_stream : c.kern.gather2)(
      &s.rows(c.w_out)[size_t(a * c.ldl)], &s.rows(c.w_out)[size_t(b * c.ldl)], ga, gb, c.P, c.L.shape.output_width,
      c.y + (c.t0 + a) * c.ldy, c.y + (c.t0 + b) * c.ldy);
}

// Phase 2 for local tokens toks[0..4) together with `gather4` (the kernel's gather4 or gather4_stream, as y is
// written): bitwise four finish_token calls.
template <typename W, typename X>
void finish_quad(const Ctx<W, X>& c, Scratch& s, const int32_t* toks,
                 void (*gather4)(const W* const* const*, const float* const*, int64_t, int64_t, float* const*)) {
  const W* const* w[4];
  const float* g[4];
  float* y[4];
  for (int t = 0; t < 4; ++t) {
    float* gt = &s.logits()[size_t(toks[t] * c.ldl)];
    c.gelu(gt, gt, c.P);
    w[t] = &s.rows(c.w_out)[size_t(toks[t] * c.ldl)];
    g[t] = gt;
    y[t] = c.y + (c.t0 + toks[t]) * c.ldy;
  }
  gather4(w, g, c.P, c.L.shape.output_width, y);
}

// Phase 2 for local tokens toks[0, count), in that order, in groups of two (finish_pair) or, in the planned walk,
// four (finish_quad, where the kernel has it). In leaf order neighbours share their upper W_out rows, so a group
// reads them once: at 2048 tokens two neighbours share ~10 of 12 rows. In the planned walk (`planned`), while a
// group is gathered, the W_out rows of the next group that the token before each does not take are fetched into L2
// (from L3 or memory when the input is new, as in a service). Streamed input, Zen 4 VM,
// bench/native/fff_stream.cpp, two builds alternating, median ns/token of 5 runs (one token at a time, before
// pairs): f32 1 thread 128 / 2048 tokens 2091 -> 2059, 1977 -> 1932; 2 threads 128 / 512 / 2048 tokens 965 ->
// 940, 1010 -> 963, 958 -> 915; bf16-dot 2048 tokens 643 -> 586. Four at once against pairs, f32, one process
// (scripts/ab-native.sh, time new / old): Zen 4 2048 tokens 2 threads 0.904-0.997 in all of 13 runs of 14-16 rounds
// (median ~0.97; a profiled run, 0.972, did not show it in the gathers' own busy time), 1 thread 0.958-0.993;
// 16-core Xeon, within its noise: 16 threads 0.85-1.03, 8 threads 1.00, 4 threads 0.92 / 0.95, 2 threads 0.93-1.01.
// Pairs fetching the rows of the next four tokens instead of the next two: 0.950-1.017 (6 runs). Groups of four
// are not taken elsewhere: the per-token walk's four tokens are in input order and share few rows (128 tokens, 2
// threads: 1.103).
template <typename W, typename X>
void finish_tokens(const Ctx<W, X>& c, Scratch& s, const int32_t* toks, int64_t count, bool planned) {
  const int64_t O = c.L.shape.output_width;
  const auto gather4 = planned ? (c.stream_y ? c.kern.gather4_stream : c.kern.gather4) : nullptr;
  const int64_t group = gather4 ? 4 : 2;
  for (int64_t q = 0; q < count; q += group) {
    if (planned) {
      // Rows of the next group's tokens that the token before each does not take.
      for (int64_t t = q + group; t < std::min(count, q + 2 * group); ++t) {
        const W* const* prev = &s.rows(c.w_out)[size_t(toks[t - 1] * c.ldl)];
        const W* const* next = &s.rows(c.w_out)[size_t(toks[t] * c.ldl)];
        for (int64_t j = 0; j < c.P; ++j) {
          if (next[j] != prev[j]) prefetch_row<true>(next[j], O);
        }
      }
    }
    if (gather4 && q + 4 <= count) {
      finish_quad(c, s, toks + q, gather4);
      continue;
    }
    const int64_t end = std::min(count, q + group);
    for (int64_t r = q; r < end; r += 2) {
      if (r + 1 < end) {
        finish_pair(c, s, toks[r], toks[r + 1]);
      } else {
        finish_token(c, s, toks[r]);
      }
    }
  }
}

// Local token b alone down every tree with the kernel's walk1: one call per tree, x held in registers, the
// routing chain (dot -> sum -> bias -> child -> next row) without a call or a scratch store per level. False,
// having done nothing, where the ISA has none or none for this width. The logits are the dot kernels' (bitwise),
// so the paths and y are those of walk_chains. Zen 4, I=768, D=11, one token repeated (fff_stream, 3 alternating
// runs, median ns): f32 1120 -> 1035, bf16 855 -> 805, bf16-dot 755 -> 735.
template <typename W, typename X>
bool walk_one(const Ctx<W, X>& c, Scratch& s, int64_t b) {
  if (!c.kern.walk1) return false;
  const FffLayer& L = c.L;
  const int64_t D = L.shape.depth, I = L.shape.input_width;
  const X* x = c.x + (c.t0 - c.x_t0 + b) * c.ldx;
  int32_t nodes[kFffMaxDepth + 1];
  for (int64_t k = 0; k < L.shape.trees; ++k) {
    const int64_t j0 = k * (D + 1);
    float* l = &s.logits()[size_t(b * c.ldl + j0)];
    if (!c.kern.walk1(c.w_in + k * c.nn * L.ld, L.ld, &L.b_in[size_t(k * c.nn)], D, x, I, l, nodes)) { return false; }
    for (int64_t level = 0; level <= D; ++level) record(c, s, b, k, level, nodes[level]);
  }
  return true;
}

template <typename W, typename X>
void forward_per_token(Ctx<W, X> c, int64_t begin, int64_t end) {
  Scratch& s = thread_scratch();
  s.reserve<W>(kFffMaxDots, c.ldl);
  static const int32_t kLocal[kFffMaxDots] = {0, 1, 2, 3};
  static_assert(kFffMaxDots == 4, "kLocal lists kFffMaxDots tokens");
  for (int64_t t = begin; t < end; t += kFffMaxDots) {
    const int64_t cnt = std::min<int64_t>(kFffMaxDots, end - t);
    c.t0 = t;
    round_tokens(c, s, t, cnt);
    if (cnt == 1 && walk_one(c, s, 0)) {
      finish_token(c, s, 0);
      continue;
    }
    for (int64_t k = 0; k < c.L.shape.trees; ++k) walk_chains(c, s, kLocal, cnt, k, 0, 0, c.L.shape.depth + 1);
    finish_tokens(c, s, kLocal, cnt, false);
  }
}

template <typename W, typename X>
void forward_batched(Ctx<W, X> c, int64_t begin, int64_t end) {
  Scratch& s = thread_scratch();
  for (int64_t t = begin; t < end; t += kBatchMax) {
    const int64_t B = std::min<int64_t>(kBatchMax, end - t);
    s.reserve<W>(B, c.ldl);
    c.t0 = t;
    round_tokens(c, s, t, B);
    for (int64_t b = 0; b < B; ++b) s.perm[size_t(b)] = int32_t(b);
    const int64_t D = c.L.shape.depth, row_bytes = c.L.shape.input_width * int64_t(sizeof(X));
    const int64_t top = std::min(kTopLevels, D);
    const int64_t block = std::max<int64_t>(16, kTopBlockBytes / row_bytes);
    const bool two_phase = top > 0 && B > block && B * row_bytes > kTwoPhaseMinBytes;
    for (int64_t k = 0; k < c.L.shape.trees; ++k) {
      if (!two_phase) {
        walk_subtree(c, s, 0, B, k, 0, 0, D + 1);
        continue;
      }
      for (int64_t q = 0; q < B; q += block) walk_subtree(c, s, q, std::min(B, q + block), k, 0, 0, top);
      // Regroup by the node reached at level `top` (a stable counting sort), then each subtree depth first.
      const int64_t first = (int64_t(1) << top) - 1, groups = int64_t(1) << top;
      s.group_end.assign(size_t(groups + 1), 0);
      for (int64_t q = 0; q < B; ++q) ++s.group_end[size_t(s.node[size_t(s.perm[size_t(q)])] - first + 1)];
      for (int64_t g = 0; g < groups; ++g) s.group_end[size_t(g + 1)] += s.group_end[size_t(g)];
      for (int64_t q = 0; q < B; ++q) {
        const int32_t tok = s.perm[size_t(q)];
        s.tmp[size_t(s.group_end[size_t(s.node[size_t(tok)] - first)]++)] = tok;
      }
      std::copy_n(s.tmp.begin(), B, s.perm.begin());
      for (int64_t g = 0, q0 = 0; g < groups; ++g) {
        const int64_t q1 = s.group_end[size_t(g)];
        if (q1 > q0) walk_subtree(c, s, q0, q1, k, int32_t(first + g), top, D + 1);
        q0 = q1;
      }
    }
    // Leaf order of the last tree: neighbours share their upper output rows while they are hot. No fetch of the
    // next pair's rows here: in calls this small (< kPlanMinRows tokens) neighbours share fewer rows, and fetching
    // the rest ahead cost more than it saved once tokens were gathered in pairs (Zen 4, streamed, 2 threads, 4
    // alternating runs, ns per token, with -> without: 128 tokens f32 701 -> 697, bf16 502 -> 477, bf16-dot 430 ->
    // 405; 255 tokens bf16-dot 417 -> 400; 1 thread 128 tokens bf16-dot 793 -> 740). The planned walk keeps it
    // (2048 tokens 2 threads f32 655 against 700 without).
    finish_tokens(c, s, s.perm.data(), B, false);
  }
}

// Levels every token walks before the tokens are split by subtree (planned walk): 2^top subtrees, at least
// kPlanGroupsPerThread per thread, fewer levels than the tree has.
int64_t plan_top_levels(int threads, int64_t depth) {
  int64_t top = kPlanTopLevels;
  while ((int64_t(1) << top) < kPlanGroupsPerThread * int64_t(threads) && top < depth) ++top;
  return std::min(top, depth);
}

// Groups 0..n-1 into order[0, n), largest first, equal sizes in ascending order (what a stable sort by size,
// descending, gives), by counting: O(n + largest size). A serial step of every planned call, the threads
// waiting: 128 groups of ~16 tokens, Zen 4, 0.28 us in a loop against 1.07 for std::stable_sort, which took 2.4-2.9
// us in the call (a traced build; it also allocates its buffer there).
template <typename Size>
void largest_first(int64_t n, Size size, std::vector<int32_t>& count, std::vector<int32_t>& order) {
  int64_t largest = 0;
  for (int64_t g = 0; g < n; ++g) largest = std::max<int64_t>(largest, size(g));
  count.assign(size_t(largest + 1), 0);
  for (int64_t g = 0; g < n; ++g) ++count[size_t(largest - size(g))];
  int32_t at = 0;
  for (int32_t& c : count) {
    const int32_t k = c;
    c = at;
    at += k;
  }
  for (int64_t g = 0; g < n; ++g) order[size_t(count[size_t(largest - size(g))]++)] = int32_t(g);
}

// The planned walk's top-level blocks of B tokens (phase A below), guided: each takes 1 / (kPlanGuide * threads)
// of the tokens still left, a multiple of 4 between 16 tokens and `block`, so the first blocks are large (their
// tokens share more of the top rows) and the last ones small (the threads finish together). Fills start with the
// blocks' first tokens and B; returns the number of blocks.
int64_t plan_blocks(int64_t B, int64_t block, int threads, std::vector<int32_t>& start) {
  start.clear();
  for (int64_t q = 0; q < B;) {
    start.push_back(int32_t(q));
    const int64_t size = std::max<int64_t>(16, std::min(block, (B - q) / (kPlanGuide * threads)) & ~int64_t(3));
    q = std::min(B, q + size);
  }
  start.push_back(int32_t(B));
  return int64_t(start.size()) - 1;
}

// The batched walk of a whole call over the pool (batched strategy). Per tree: (A) the threads split the tokens
// and walk the top levels (rows shared by all, few enough to stay in every core's L2), in blocks whose
// activations fit in L2; (B) the calling thread regroups the tokens by the subtree they reached (a stable
// counting sort); (C) the subtrees are handed out to the threads one at a time, each walked depth first by one
// thread, which then gathers its tokens' outputs (after the last tree) while the subtree's W_out rows are hot.
// So each lower row is read once per call whatever the thread count, where token ranges per thread read every
// lower row once per thread. Logits, rows and paths live in the calling thread's scratch, indexed by token, so
// the threads write disjoint parts; every (row, token) dot and every token's gather is the one of the other
// walks, so results are bitwise the same.
template <typename W, typename X>
void forward_planned(Ctx<W, X> c, int64_t rows, ThreadPool& pool) {
  Scratch& s = thread_scratch();
  const int64_t D = c.L.shape.depth, K = c.L.shape.trees;
  const int64_t top = plan_top_levels(pool.threads(), D);
  const int64_t groups = int64_t(1) << top, first = groups - 1;
  if (int64_t(s.order.size()) < groups) s.order.resize(size_t(groups));
  const int64_t row_bytes = c.L.shape.input_width * int64_t(sizeof(X));
  const int64_t block = std::max<int64_t>(16, kTopBlockBytes / row_bytes);
  WalkProfile prof(pool.threads());  // empty unless built with FFFBERT_PROFILE (fff_profile.h)
  for (int64_t t = 0; t < rows; t += kPlanMax) {
    const int64_t B = std::min<int64_t>(kPlanMax, rows - t);
    s.reserve<W>(B, c.ldl);
    c.t0 = t;
    if (c.round_x) prepare_rounded(c, s, t, B);
    // (A) in blocks handed out one at a time, several per thread, so that a slow core or a late thread does not
    // hold up the others.
    const int64_t a_blocks = plan_blocks(B, block, pool.threads(), s.a_start);
    for (int64_t k = 0; k < K; ++k) {
      pool.parallel_tasks(a_blocks, [&](int64_t i, int thread) {
        const int64_t t0 = prof.task_start();
        const int64_t q = s.a_start[size_t(i)], q1 = s.a_start[size_t(i + 1)];
        if (k == 0 && c.round_x) round_rows(c, s, q, q1);
        for (int64_t b = q; b < q1; ++b) s.perm[size_t(b)] = int32_t(b);
        walk_subtree(c, s, q, q1, k, 0, 0, top);
        prof.task_end(WalkProfile::kTop, thread, t0);
      });
      prof.end_phase(WalkProfile::kTop);
      s.group_end.assign(size_t(groups + 1), 0);
      for (int64_t b = 0; b < B; ++b) ++s.group_end[size_t(s.node[size_t(b)] - first + 1)];
      for (int64_t g = 0; g < groups; ++g) s.group_end[size_t(g + 1)] += s.group_end[size_t(g)];
      for (int64_t b = 0; b < B; ++b) s.perm[size_t(s.group_end[size_t(s.node[size_t(b)] - first)]++)] = int32_t(b);
      auto group_size = [&](int64_t g) { return s.group_end[size_t(g)] - (g ? s.group_end[size_t(g - 1)] : 0); };
      // group_end[g] is now where group g ends (and g + 1 starts). (C) hands out the largest groups first.
      largest_first(groups, group_size, s.by_size, s.order);
      prof.end_phase(WalkProfile::kRegroup);
      pool.parallel_tasks(groups, [&](int64_t task, int thread) {
        const int64_t t0 = prof.task_start();
        const int64_t g = s.order[size_t(task)];
        const int64_t q0 = g ? s.group_end[size_t(g - 1)] : 0, q1 = s.group_end[size_t(g)];
        if (q1 > q0) {
          walk_subtree(c, s, q0, q1, k, int32_t(first + g), top, D + 1);
          if (k + 1 == K) {
            const int64_t t1 = prof.now();
            // Leaf order: neighbours share their upper output rows while they are hot.
            finish_tokens(c, s, &s.perm[size_t(q0)], q1 - q0, true);
            end_outputs(c);
            prof.split(t0, t1);
          }
        }
        prof.task_end(WalkProfile::kSubtrees, thread, t0);
      });
      prof.end_phase(WalkProfile::kSubtrees);
    }
  }
}

// One walk (not automatic).
template <typename W, typename X>
void forward_with(const Ctx<W, X>& c, int64_t rows, FffStrategy strategy, ThreadPool& pool) {
  const bool batched = strategy == FffStrategy::batched;
  const int64_t top = plan_top_levels(pool.threads(), c.L.shape.depth);
  if (batched && rows >= kPlanMinRows && top > 0 &&
      (int64_t(1) << top) >= kPlanGroupsPerThread * int64_t(pool.threads())) {
    forward_planned(c, rows, pool);
    return;
  }
  pool.parallel_for(rows, batched ? 16 : 8, [&](int64_t begin, int64_t end, int) {
    if (batched) {
      forward_batched(c, begin, end);
    } else {
      forward_per_token(c, begin, end);
    }
    end_outputs(c);
  });
}

// `automatic`: the per-token walk below kTuneMinRows rows, else whichever walk the layer's tuner picks, timed.
template <typename W, typename X>
void forward(const Ctx<W, X>& c, int64_t rows, FffStrategy strategy, ThreadPool& pool) {
  if (strategy != FffStrategy::automatic) {
    forward_with(c, rows, strategy, pool);
  } else if (rows < kTuneMinRows) {
    forward_with(c, rows, FffStrategy::per_token, pool);
  } else {
    const FffTuner::Ticket t = c.L.tuner.choose(rows, pool.threads());
    const auto t0 = std::chrono::steady_clock::now();
    forward_with(c, rows, t.strategy, pool);
    c.L.tuner.report(t, rows, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
}

}  // namespace

namespace {

std::atomic<int> g_output_stores{int(FffOutputStores::automatic)};

// y's rows start on cache lines and are whole lines: what the streamed gathers need.
bool stream_layout(const float* y, int64_t ldy, int64_t output_width) {
  constexpr int64_t kLineFloats = int64_t(kCacheLine / sizeof(float));
  return y && bytes_to_cache_line(y) == 0 && ldy % kLineFloats == 0 && output_width % kLineFloats == 0;
}

}  // namespace

void fff_set_output_stores(FffOutputStores mode) { g_output_stores.store(int(mode), std::memory_order_relaxed); }

FffOutputStores fff_output_stores() { return FffOutputStores(g_output_stores.load(std::memory_order_relaxed)); }

// Zen 4 VM (1 MB L2 per core, 32 MB L3 shared), one process, round by round (ab_fff, streamed input), y streamed /
// cached at 2048 tokens on 2 threads: f32 0.893 and 0.904 (both orders), bf16 0.843, bf16-dot 0.812 and 0.880;
// 1 thread f32 0.905; 1024 tokens 0.944; 512 tokens 0.963-0.976 (y past half the L2s: the walk streams through
// them too); the AVX2 kernels 0.863; the whole encoder at 8x128 and 16x128 tokens alike
// (508 / 511 ms, 965 / 970: the next layer reads y from DRAM instead of the L3, the walk saves as much). On the
// 16-core Xeon (2 MB L2, 300 MB L3) streaming everywhere made no difference either way (0.93-1.06 over nine
// configurations), and the rule leaves y cached there. docs/PERFORMANCE.md has the rest.
bool fff_streams_output(int64_t weight_bytes, int64_t rows, int64_t input_width, int64_t output_width, const float* y,
                        int64_t ldy, int threads, const CacheSizes& caches) {
  if (!stream_layout(y, ldy, output_width) || caches.l2 <= 0 || caches.llc <= 0 || rows <= 0) return false;
  const double y_bytes = 4.0 * double(rows) * double(ldy), x_bytes = 4.0 * double(rows) * double(input_width);
  return y_bytes > 0.5 * double(caches.l2) * double(std::max(threads, 1)) &&
         2.0 * (double(weight_bytes) + x_bytes + y_bytes) > double(caches.llc);
}

void fff_forward(const FffLayer& layer, const float* x, int64_t rows, int64_t ldx, float* y, int64_t ldy,
                 int32_t* paths, FffStrategy strategy, Isa isa, ThreadPool& pool) {
  const FffShape& sh = layer.shape;
  if (rows <= 0 || !x || !y || ldx < sh.input_width || ldy < sh.output_width) return;
  const FffKernels* kern = fff_kernels_for(isa_runnable(isa));
  const auto gelu = dense_kernels_for(isa).gelu;
  const FffOutputStores stores = fff_output_stores();
  const bool stream = stores == FffOutputStores::streamed ? stream_layout(y, ldy, sh.output_width)
                      : stores == FffOutputStores::cached
                          ? false
                          : fff_streams_output(fff_weight_bytes(layer), rows, sh.input_width, sh.output_width, y, ldy,
                                               pool.threads(), cache_sizes());
  const int64_t nn = sh.nodes_per_tree(), P = sh.trees * (sh.depth + 1);
  const float* fx = nullptr;
  const uint16_t* bx = nullptr;
  // What every context takes after its fields: the ISA's GELU and the output stores; then the walk.
  const auto run = [&](auto& c) {
    c.gelu = gelu;
    c.stream_y = stream && c.kern.gather_stream;
    forward(c, rows, strategy, pool);
  };
  if (layer.weights == FffWeights::f32) {
    const float* w_in = layer.w.get();
    const float* w_out = w_in + layer.out_offset;
    Ctx<float> c{layer, row_kernels(*kern, w_in, fx), w_in, w_out, x, ldx, x, ldx, y, ldy, paths, 0, nn, P, nullptr, 0};
    run(c);
    return;
  }
  const uint16_t* w_in = layer.w_bf16.get();
  const uint16_t* w_out = w_in + layer.out_offset;
  if (layer.weights == FffWeights::bf16_dot && kern->dot_bf16x) {
    Ctx<uint16_t, uint16_t> c{
        layer, row_kernels(*kern, w_in, bx), w_in, w_out, x, ldx, nullptr, 0, y, ldy, paths, 0, nn, P, kern->round_bf16,
        0};
    run(c);
    return;
  }
  Ctx<uint16_t> c{layer,
                  row_kernels(*kern, w_in, fx),
                  w_in,
                  w_out,
                  x,
                  ldx,
                  x,
                  ldx,
                  y,
                  ldy,
                  paths,
                  0,
                  nn,
                  P,
                  layer.weights == FffWeights::bf16_dot ? kern->round_bf16 : nullptr,
                  0};
  run(c);
}

namespace {

// Calls fn() (which returns the units it did) until `seconds` have passed; returns units per second.
template <typename Fn>
double rate_for(double seconds, Fn fn) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  double units = 0.0, elapsed = 0.0;
  do {
    for (int i = 0; i < 16; ++i) units += fn();
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (elapsed < seconds);
  return units / elapsed;
}

constexpr int64_t kProbeWidth = 768;

// One thread's probe with rows of type W (float or bf16) and dot activations of type X.
template <typename W, typename X>
double probe_thread(const RowKernels<W, X>& k, FffProbe kind, int64_t bytes, double seconds) {
  const int64_t n = kProbeWidth;
  const int64_t rows = kind == FffProbe::read ? std::max<int64_t>(12, bytes / int64_t(n * sizeof(W))) : 12;
  AlignedArray<W> w = alloc_zeroed<W>(rows * n);
  AlignedArray<X> x = alloc_zeroed<X>(4 * n);
  AlignedArray<float> y = alloc_zeroed<float>(n);
  if (!w || !x || !y) return 0.0;
  std::vector<const W*> ptr(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) ptr[size_t(r)] = w.get() + r * n;
  const float g[12] = {1e-3f, 2e-3f, 3e-3f, 4e-3f, 5e-3f, 6e-3f, 7e-3f, 8e-3f, 9e-3f, 1e-2f, 2e-2f, 3e-2f};
  if (kind == FffProbe::dot) {
    const X* xs[4] = {x.get(), x.get() + n, x.get() + 2 * n, x.get() + 3 * n};
    const W* ws[4] = {ptr[0], ptr[1], ptr[2], ptr[3]};
    float out[4];
    return rate_for(seconds, [&] {
      k.dot(ws, xs, 4, n, out);
      return 4.0;
    });
  }
  if (kind == FffProbe::gather) {
    return rate_for(seconds, [&] {
      k.gather(ptr.data(), g, 12, n, y.get());
      return 12.0;
    });
  }
  int64_t r = 0;
  const double row_bytes = double(n * int64_t(sizeof(W)));
  return rate_for(seconds, [&] {
    if (r + 12 > rows) r = 0;
    k.gather(ptr.data() + r, g, 12, n, y.get());
    r += 12;
    return 12.0 * row_bytes;
  });
}

template <typename W, typename X>
double probe_all(const RowKernels<W, X>& k, FffProbe kind, int64_t bytes, double seconds, ThreadPool& pool) {
  std::atomic<double> total{0.0};
  pool.parallel_for(pool.threads(), 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) {
      const double r = probe_thread(k, kind, bytes, seconds);
      double cur = total.load();
      while (!total.compare_exchange_weak(cur, cur + r)) {}
    }
  });
  return total.load();
}

}  // namespace

double fff_probe(FffProbe kind, FffWeights weights, int64_t bytes, double seconds, Isa isa, ThreadPool& pool) {
  if (kind != FffProbe::dot && kind != FffProbe::gather && kind != FffProbe::read) return 0.0;
  if (bytes < 0 || bytes > (int64_t(1) << 32) || !(seconds > 0.0)) return 0.0;
  seconds = std::min(1.0, std::max(0.001, seconds));
  const FffKernels* kern = fff_kernels_for(isa_runnable(isa));
  const float* f = nullptr;
  const uint16_t* h = nullptr;
  switch (weights) {
    case FffWeights::f32: return probe_all(row_kernels(*kern, f, f), kind, bytes, seconds, pool);
    case FffWeights::bf16: return probe_all(row_kernels(*kern, h, f), kind, bytes, seconds, pool);
    case FffWeights::bf16_dot:
      if (kern->dot_bf16x) return probe_all(row_kernels(*kern, h, h), kind, bytes, seconds, pool);
      return probe_all(row_kernels(*kern, h, f), kind, bytes, seconds, pool);
  }
  return 0.0;
}

}  // namespace fffbert
