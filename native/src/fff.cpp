// FFF drivers: packing, the per-token and batched walks, threads. ISA-free: all wide arithmetic goes through
// the kernel table (kernels/fff_kernels.h), so routing and GELU are the same code for every ISA.
//
// A walk has two phases per token: (1) the D+1 dependent dots per tree, which fix the path and the GELU values
// g; (2) y = sum over the K*(D+1) visited nodes of g * W_out^T[row], one gather that keeps blocks of y in
// registers. Phase 2 reads the same rows in the same order whatever the strategy, and the dot kernels are
// bitwise independent of how dots are grouped, so strategies and thread counts agree bitwise.
#include "fffbert/fff.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <vector>

#include "kernels/fff_kernels.h"

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>
#define FFFBERT_PREFETCH(p) _mm_prefetch(p, _MM_HINT_T0)
#elif defined(_MSC_VER)
#define FFFBERT_PREFETCH(p) __prefetch(p)
#else
#define FFFBERT_PREFETCH(p) __builtin_prefetch(p)
#endif

namespace fffbert {

namespace {

// Paths are int32 node indices: 2^(D+1) - 1 must fit.
constexpr int64_t kMaxDepth = 30;
constexpr int64_t kMaxWidth = int64_t(1) << 40;
constexpr int64_t kMaxBytes = int64_t(1) << 46;

struct AlignedFree {
  void operator()(float* p) const { ::operator delete[](p, std::align_val_t(64)); }
};
using AlignedFloats = std::unique_ptr<float[], AlignedFree>;

AlignedFloats alloc_zeroed(int64_t count) {
  float* p = static_cast<float*>(::operator new[](size_t(count) * sizeof(float), std::align_val_t(64),
                                                 std::nothrow));
  if (p) std::memset(p, 0, size_t(count) * sizeof(float));
  return AlignedFloats(p);
}

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

}  // namespace

struct FffLayer {
  FffShape shape;
  int64_t rows;    // K * n_nodes
  int64_t ld_in;   // W_in row stride in floats: I rounded up to kFffRowAlign
  int64_t ld_out;  // W_out^T row stride: O rounded up to kFffRowAlign
  AlignedFloats w_in;   // [rows, ld_in], zero padding
  AlignedFloats w_out;  // [rows, ld_out] = linear_out.weight^T, zero padding
  std::vector<float> b_in;  // [rows]
};

void FffLayerDeleter::operator()(FffLayer* p) const { delete p; }

FffLayerPtr fff_create(const FffShape& s, const float* linear_in_weight, const float* linear_in_bias,
                       const float* linear_out_weight) {
  if (!linear_in_weight || !linear_in_bias || !linear_out_weight) return nullptr;
  if (s.input_width < 1 || s.output_width < 1 || s.depth < 0 || s.trees < 1) return nullptr;
  if (s.depth > kMaxDepth || s.input_width > kMaxWidth || s.output_width > kMaxWidth) return nullptr;
  const int64_t nn = s.nodes_per_tree();
  if (s.trees > kMaxBytes / nn) return nullptr;
  const int64_t rows = s.trees * nn;
  const int64_t ld_in = round_up(s.input_width, kFffRowAlign);
  const int64_t ld_out = round_up(s.output_width, kFffRowAlign);
  if (ld_in + ld_out + 1 > kMaxBytes / 4 / rows) return nullptr;

  FffLayerPtr L(new (std::nothrow) FffLayer{s, rows, ld_in, ld_out, nullptr, nullptr, {}});
  if (!L) return nullptr;
  L->w_in = alloc_zeroed(rows * ld_in);
  L->w_out = alloc_zeroed(rows * ld_out);
  if (!L->w_in || !L->w_out) return nullptr;
  try {
    L->b_in.assign(linear_in_bias, linear_in_bias + rows);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
  const int64_t I = s.input_width, O = s.output_width;
  for (int64_t r = 0; r < rows; ++r) std::memcpy(&L->w_in[r * ld_in], linear_in_weight + r * I, I * sizeof(float));
  // linear_out.weight [O, rows] -> [rows, ld_out], in 64-row tiles so both sides stay in cache.
  constexpr int64_t kTile = 64;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
    const int64_t r1 = std::min(rows, r0 + kTile);
    for (int64_t o = 0; o < O; ++o) {
      const float* src = linear_out_weight + o * rows;
      for (int64_t r = r0; r < r1; ++r) L->w_out[r * ld_out + o] = src[r];
    }
  }
  return L;
}

const FffShape& fff_shape(const FffLayer& layer) { return layer.shape; }

int64_t fff_weight_bytes(const FffLayer& layer) {
  return int64_t(sizeof(float)) * layer.rows * (layer.ld_in + layer.ld_out + 1);
}

namespace {

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

// Computed in scalar float (one per node and token) so that every ISA routes and scales identically.
float gelu_erf(float l) { return 0.5f * l * (1.0f + std::erf(l * 0.70710678118654752f)); }

void prefetch_row(const float* p, int64_t floats) {
  const char* c = reinterpret_cast<const char*>(p);
  for (int64_t b = 0; b < floats * int64_t(sizeof(float)); b += 64) FFFBERT_PREFETCH(c + b);
}

// Below this many rows the per-token walk is at least as fast (see the measurements in fff.h).
constexpr int64_t kBatchedMinRows = 16;
// Tokens one batched walk groups together: their activations (I=768: 768 KB) stay in L2 across the levels.
constexpr int64_t kBatchBlock = 256;

struct Ctx {
  const FffLayer& L;
  const FffKernels& kern;
  const float* x;
  int64_t ldx;
  float* y;
  int64_t ldy;
  int32_t* paths;
  int64_t nn;  // nodes per tree
  int64_t P;   // K*(D+1) visited nodes per token
};

// Per-thread scratch, grown on demand and reused across calls.
struct Scratch {
  std::vector<float> g;                  // [tokens, P] GELU values
  std::vector<const float*> out_rows;    // [tokens, P] W_out^T rows, in visiting order
  std::vector<int32_t> node;             // [tokens] current node within the tree
  std::vector<int32_t> perm, perm_next;  // token order grouped by node (batched)
  void reserve(int64_t tokens, int64_t P) {
    if (int64_t(g.size()) < tokens * P) {
      g.resize(size_t(tokens * P));
      out_rows.resize(size_t(tokens * P));
    }
    if (int64_t(node.size()) < tokens) {
      node.resize(size_t(tokens));
      perm.resize(size_t(tokens));
      perm_next.resize(size_t(tokens));
    }
  }
};

Scratch& thread_scratch() {
  thread_local Scratch s;
  return s;
}

// Records node `n` of tree k at `level` for local token b, whose global index is t; returns the child.
inline int32_t visit(const Ctx& c, Scratch& s, int64_t b, int64_t t, int64_t k, int64_t level, int32_t n,
                     float dot) {
  const int64_t r = k * c.nn + n;
  const float l = dot + c.L.b_in[size_t(r)];
  const int64_t j = k * (c.L.shape.depth + 1) + level;
  s.g[size_t(b * c.P + j)] = gelu_erf(l);
  s.out_rows[size_t(b * c.P + j)] = &c.L.w_out[r * c.L.ld_out];
  if (c.paths) c.paths[t * c.P + j] = n;
  return 2 * n + 1 + (l > 0.0f ? 1 : 0);
}

// Tokens [t0, t0 + cnt), cnt <= kFffMaxDots, walked side by side: cnt independent dependency chains.
void walk_per_token(const Ctx& c, int64_t t0, int cnt, Scratch& s) {
  const FffLayer& L = c.L;
  const int64_t I = L.shape.input_width, D = L.shape.depth;
  const float* xs[kFffMaxDots];
  const float* ws[kFffMaxDots];
  float dots[kFffMaxDots];
  for (int b = 0; b < cnt; ++b) xs[b] = c.x + (t0 + b) * c.ldx;
  for (int64_t k = 0; k < L.shape.trees; ++k) {
    for (int b = 0; b < cnt; ++b) s.node[b] = 0;
    for (int64_t level = 0; level <= D; ++level) {
      for (int b = 0; b < cnt; ++b) {
        const int64_t r = k * c.nn + s.node[b];
        ws[b] = &L.w_in[r * L.ld_in];
        // Both candidate children of the next level, and this node's output row for phase 2.
        if (level < D) {
          prefetch_row(ws[b] + (s.node[b] + 1) * L.ld_in, I);
          prefetch_row(ws[b] + (s.node[b] + 2) * L.ld_in, I);
        }
        prefetch_row(&L.w_out[r * L.ld_out], L.shape.output_width);
      }
      c.kern.dot(ws, xs, cnt, I, dots);
      for (int b = 0; b < cnt; ++b) s.node[b] = visit(c, s, b, t0 + b, k, level, s.node[b], dots[b]);
    }
  }
  for (int b = 0; b < cnt; ++b) {
    c.kern.gather(&s.out_rows[size_t(b * c.P)], &s.g[size_t(b * c.P)], c.P, L.shape.output_width,
                  c.y + (t0 + b) * c.ldy);
  }
}

// Tokens [t0, t0 + B) level by level: at each level the tokens are ordered by node (perm), so each node's W_in
// row is read once for its whole group, kFffMaxDots tokens per kernel call while it sits in L1.
void walk_batched(const Ctx& c, int64_t t0, int64_t B, Scratch& s) {
  const FffLayer& L = c.L;
  const int64_t I = L.shape.input_width, D = L.shape.depth;
  const float* xs[kFffMaxDots];
  const float* ws[kFffMaxDots];
  float dots[kFffMaxDots];
  for (int64_t b = 0; b < B; ++b) s.perm[size_t(b)] = int32_t(b);
  for (int64_t k = 0; k < L.shape.trees; ++k) {
    for (int64_t b = 0; b < B; ++b) s.node[size_t(b)] = 0;
    for (int64_t level = 0; level <= D; ++level) {
      for (int64_t s0 = 0; s0 < B;) {
        const int32_t n = s.node[size_t(s.perm[size_t(s0)])];
        int64_t s1 = s0 + 1;
        while (s1 < B && s.node[size_t(s.perm[size_t(s1)])] == n) ++s1;
        const float* w = &L.w_in[(k * c.nn + n) * L.ld_in];
        if (s1 < B) prefetch_row(&L.w_in[(k * c.nn + s.node[size_t(s.perm[size_t(s1)])]) * L.ld_in], I);
        for (int64_t q0 = s0; q0 < s1; q0 += kFffMaxDots) {
          const int cnt = int(std::min<int64_t>(kFffMaxDots, s1 - q0));
          for (int q = 0; q < cnt; ++q) {
            ws[q] = w;
            xs[q] = c.x + (t0 + s.perm[size_t(q0 + q)]) * c.ldx;
          }
          c.kern.dot(ws, xs, cnt, I, dots);
          for (int q = 0; q < cnt; ++q) {
            const int32_t b = s.perm[size_t(q0 + q)];
            s.node[size_t(b)] = visit(c, s, b, t0 + b, k, level, n, dots[q]);
          }
        }
        // Stable split of the group: left children (odd index 2n+1) first, so perm stays sorted by node.
        int64_t o = s0;
        for (int64_t q = s0; q < s1; ++q) {
          if (s.node[size_t(s.perm[size_t(q)])] & 1) s.perm_next[size_t(o++)] = s.perm[size_t(q)];
        }
        for (int64_t q = s0; q < s1; ++q) {
          if (!(s.node[size_t(s.perm[size_t(q)])] & 1)) s.perm_next[size_t(o++)] = s.perm[size_t(q)];
        }
        s0 = s1;
      }
      s.perm.swap(s.perm_next);
    }
  }
  // Phase 2 in leaf order of the last tree: neighbours share their upper rows, which stay hot.
  for (int64_t q = 0; q < B; ++q) {
    const int64_t b = s.perm[size_t(q)];
    c.kern.gather(&s.out_rows[size_t(b * c.P)], &s.g[size_t(b * c.P)], c.P, L.shape.output_width,
                  c.y + (t0 + b) * c.ldy);
  }
}

}  // namespace

Isa fff_resolve_isa(Isa isa) { return isa_supported(isa) ? isa : isa_best(); }

void fff_forward(const FffLayer& layer, const float* x, int64_t rows, int64_t ldx, float* y, int64_t ldy,
                 int32_t* paths, FffStrategy strategy, Isa isa, ThreadPool& pool) {
  const FffShape& sh = layer.shape;
  if (rows <= 0 || !x || !y || ldx < sh.input_width || ldy < sh.output_width) return;
  const FffKernels* kern = fff_kernels_for(fff_resolve_isa(isa));
  const Ctx c{layer, *kern, x, ldx, y, ldy, paths, sh.nodes_per_tree(), sh.trees * (sh.depth + 1)};
  if (strategy == FffStrategy::automatic) {
    strategy = rows < kBatchedMinRows ? FffStrategy::per_token : FffStrategy::batched;
  }
  if (strategy == FffStrategy::per_token) {
    pool.parallel_for(rows, 8, [&](int64_t begin, int64_t end, int) {
      Scratch& s = thread_scratch();
      s.reserve(kFffMaxDots, c.P);
      for (int64_t t = begin; t < end; t += kFffMaxDots) {
        walk_per_token(c, t, int(std::min<int64_t>(kFffMaxDots, end - t)), s);
      }
    });
  } else {
    pool.parallel_for(rows, 16, [&](int64_t begin, int64_t end, int) {
      Scratch& s = thread_scratch();
      const int64_t blocks = (end - begin + kBatchBlock - 1) / kBatchBlock;
      // Equal blocks of at most kBatchBlock tokens.
      for (int64_t i = 0; i < blocks; ++i) {
        const int64_t b0 = begin + i * (end - begin) / blocks, b1 = begin + (i + 1) * (end - begin) / blocks;
        s.reserve(b1 - b0, c.P);
        walk_batched(c, b0, b1 - b0, s);
      }
    });
  }
}

}  // namespace fffbert
