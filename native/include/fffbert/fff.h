// The Fast Feedforward (FFF) layer, UltraFastBERT variant (docs/FFF-SPEC.md section 1).
//
// For each token x (length I) and each of K trees: walk D+1 levels from the root; at node r (flat index
// k*n_nodes + n) the logit is l = dot(W_in[r], x) + b_in[r]; y += GELU_erf(l) * W_out[:, r]; go to child
// 2n+1 (l <= 0, so exactly 0 goes left) or 2n+2 (l > 0). No output bias.
//
// NaN: a NaN logit is not > 0, so it goes left; the NaN propagates into y through GELU. (Documented in the README.)
#pragma once
#include <cstdint>
#include <memory>

#include "fffbert/isa.h"
#include "fffbert/pool.h"

namespace fffbert {

// The deepest tree accepted anywhere (fff_create, BertModel, the binding; TypeScript's FFF_MAX_DEPTH in
// lib/limits.ts is checked against it by test/limits.test.ts through the addon's fffMaxDepth export). Paths are
// int32 node indices, which would allow 30; a tree of depth 24 already holds 2^25 - 1 = 33.5M nodes.
constexpr int64_t kFffMaxDepth = 24;

struct FffShape {
  int64_t input_width;                                                  // I >= 1
  int64_t output_width;                                                 // O >= 1
  int64_t depth;                                                        // D >= 0
  int64_t trees;                                                        // K >= 1
  int64_t nodes_per_tree() const { return (int64_t(2) << depth) - 1; }  // 2^(D+1) - 1
};

// Weights packed once at construction: W_in rows [K*n_nodes, I] padded to a kernel-friendly stride,
// W_out transposed to node-major [K*n_nodes, O] (each node's output vector contiguous), padded likewise.
// Opaque: only fff.cpp and the kernels know the layout.
struct FffLayer;

struct FffLayerDeleter {
  void operator()(FffLayer* p) const;
};
using FffLayerPtr = std::unique_ptr<FffLayer, FffLayerDeleter>;

// How the packed W_in and W_out^T are stored. The bias, the activations, the arithmetic (after widening a
// weight to fp32 exactly) and the outputs are fp32 either way.
//   f32:  as given.
//   bf16: each weight rounded to the nearest bfloat16 (ties to even; 8 significant bits, relative error
//         <= 2^-8): half the bytes, so half the memory traffic of the walk, which is what limits it. A bf16
//         layer computes bitwise what an f32 layer computes from the rounded weights; its outputs differ from
//         the f32 layer's by that rounding, and a logit within it of 0 may route differently.
//   bf16_dot: bf16 rows as above, and the W_in dots take x rounded to bf16 too (nearest even; fp32 subnormals
//         of x and of the weights flush to zero), as the CPUs' bf16 dot instructions (AVX512_BF16 VDPBF16PS, Arm
//         BFDOT) compute: every product of two bf16 values is exact in fp32, the sums are fp32 (each ISA one
//         fixed order, as for the other types). Where the CPU has no bf16 dot, the widening kernels compute the
//         same thing from the rounded x. The bias, the output gather (g * widened W_out rows) and routing are as
//         for bf16. Against bf16 this adds x's rounding (relative 2^-9 per element) to the logits.
enum class FffWeights : int { f32 = 0, bf16 = 1, bf16_dot = 2 };

// Inputs in PyTorch layouts: linear_in_weight [K*n_nodes, I], linear_in_bias [K*n_nodes],
// linear_out_weight [O, K*n_nodes]. Copies (and packs) them; the caller may free its arrays afterwards.
// Returns null when the shape is invalid (sizes < 1, D < 0, D > kFffMaxDepth, null pointers, sizes too
// large for int64 or memory), `weights` is not one of FffWeights, or the allocation fails.
FffLayerPtr fff_create(const FffShape& shape, const float* linear_in_weight, const float* linear_in_bias,
                       const float* linear_out_weight, FffWeights weights = FffWeights::f32);
const FffShape& fff_shape(const FffLayer& layer);
FffWeights fff_weights(const FffLayer& layer);
// Bytes held by the packed weights.
int64_t fff_weight_bytes(const FffLayer& layer);

enum class FffStrategy : int {
  automatic = 0,  // per_token below 16 rows, else whichever of the two the layer has timed faster for calls of
                  // that size and thread count (native/src/fff_tune.h)
  per_token = 1,  // each token walks its trees alone (4 tokens interleaved per thread)
  batched = 2,    // depth first over each tree with the tokens grouped by node: each node's W_in row read once
                  // for all the tokens of the call that reach it (the top levels by every thread, each subtree
                  // below them by one); output rows gathered in leaf order
};

// x: [rows, I] row-major with row stride ldx (>= I); y: [rows, O] with row stride ldy (>= O), overwritten.
// paths: null, or [rows, K, D+1] int32: the node index (0-based, within its tree) visited at each level.
// Work is split over `pool`; for one ISA (and weight type) the result does not depend on the thread count or
// strategy (bitwise: every ISA has one dot summation order fixed by I, used by both walks). Across ISAs outputs
// differ by rounding (FMA, summation order), and a logit within that rounding of 0 may route differently.
// Does nothing when rows <= 0, x or y is null, ldx < I or ldy < O (callers validate and report those).
// An `isa` not supported here runs scalar (isa_runnable).
void fff_forward(const FffLayer& layer, const float* x, int64_t rows, int64_t ldx, float* y, int64_t ldy,
                 int32_t* paths, FffStrategy strategy, Isa isa, ThreadPool& pool);

// How fff_forward writes y. automatic: past the caches (non-temporal stores, where the ISA's kernels have them:
// AVX2, AVX-512) when the call outgrows them, fff_streams_output below; else through them. cached / streamed:
// always so (streamed where y allows it: tests and benchmarks). Process-wide; automatic by default. The output is
// bitwise the same either way.
enum class FffOutputStores : int { automatic = 0, cached = 1, streamed = 2 };
void fff_set_output_stores(FffOutputStores mode);
FffOutputStores fff_output_stores();

// The automatic rule: y [rows, ldy] is streamed when each of its rows starts on a cache line (y 64-byte aligned,
// ldy and output_width multiples of 16), it is larger than half the L2s of the `threads` writing it together (the
// walk's rows and x stream through the same L2s), and the layer's weights, x and y come to more than half the
// last-level cache (a core shares it with others, and the walk's rows and x are what the call reads): written
// through the caches, y would then only evict what the walk reads, and pay a read for ownership of every line.
// False where `caches` are unknown (0).
bool fff_streams_output(int64_t weight_bytes, int64_t rows, int64_t input_width, int64_t output_width, const float* y,
                        int64_t ldy, int threads, const CacheSizes& caches);

// Machine probes for the benchmark's roofline (bench/layer.mjs, its "limit" row), run with the FFF kernels of
// `isa` on `pool` (every thread its own buffers, for about `seconds`; seconds is clamped to [0.001, 1]):
//   dot:    W_in dots of 768 with rows and x in L1 (4 tokens side by side, as the walks run them)
//   gather: W_out rows of 768 accumulated into y, 12 rows per call (a 1x11 token's), rows in L1/L2
//   read:   the gather kernel streaming over `bytes` of fp32 rows per thread (the bandwidth of wherever a working
//           set of that size lives: L1, L2, L3 or DRAM)
// Returns the rate over all threads: dots/s, rows/s, or bytes/s; 0 for bad arguments or out of memory.
enum class FffProbe : int { dot = 0, gather = 1, read = 2 };
double fff_probe(FffProbe kind, FffWeights weights, int64_t bytes, double seconds, Isa isa, ThreadPool& pool);

}  // namespace fffbert
