// SGEMM drivers: packing, cache blocking, threading, and the PackedLinear / sgemm entry points of dense.h.
#include "gemm.h"
#include "linear.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#include "fffbert/memory.h"
#include "prefetch.h"

namespace fffbert {
namespace gemm {

void FloatBuffer::Free::operator()(float* p) const { free_aligned(p); }

float* FloatBuffer::reserve(size_t n) {
  if (n > capacity_) {
    if (n > SIZE_MAX / sizeof(float)) throw std::bad_alloc();
    data_.reset(static_cast<float*>(alloc_aligned(n * sizeof(float))));
    capacity_ = data_ ? n : 0;
    if (!data_) throw std::bad_alloc();
  }
  return data_.get();
}

void pack_b(const float* src, int64_t rs, int64_t cs, int64_t K, int64_t N, float* dst, int64_t panel_stride,
            int64_t p0, int64_t p1) {
  for (int64_t p = p0; p < p1; ++p) {
    float* d = dst + p * panel_stride;
    const int64_t n0 = p * kPanelWidth;
    const int64_t w = std::min<int64_t>(kPanelWidth, N - n0);
    if (w < kPanelWidth) std::memset(d, 0, size_t(K) * kPanelWidth * sizeof(float));
    if (cs == 1) {  // rows of op(B) contiguous: copy 16-wide slices (a loop, not a memcpy call per 64 bytes)
      for (int64_t k = 0; k < K; ++k) {
        for (int64_t j = 0; j < w; ++j) d[k * kPanelWidth + j] = src[k * rs + n0 + j];
      }
    } else {  // columns of op(B) contiguous (PyTorch weight [N, K]): transpose 16 x 16 blocks, in cache
      for (int64_t k0 = 0; k0 < K; k0 += 16) {
        const int64_t kb = std::min<int64_t>(16, K - k0);
        for (int64_t j = 0; j < w; ++j) {
          const float* s = src + (n0 + j) * cs + k0 * rs;
          for (int64_t k = 0; k < kb; ++k) d[(k0 + k) * kPanelWidth + j] = s[k * rs];
        }
      }
    }
  }
}

void pack_a(const float* src, int64_t rs, int64_t cs, int64_t rows, int64_t kc, float alpha, int mr, float* dst) {
  for (int64_t i0 = 0; i0 < rows; i0 += mr) {
    float* d = dst + i0 * kc;
    const int64_t h = std::min<int64_t>(mr, rows - i0);
    if (cs == 1) {  // row-major A: stream each row
      for (int64_t i = 0; i < h; ++i) {
        const float* s = src + (i0 + i) * rs;
        for (int64_t k = 0; k < kc; ++k) d[k * mr + i] = alpha * s[k];
      }
    } else {  // transposed A: stream each column
      for (int64_t k = 0; k < kc; ++k) {
        const float* s = src + k * cs + i0 * rs;
        for (int64_t i = 0; i < h; ++i) d[k * mr + i] = alpha * s[i * rs];
      }
    }
  }
}

void gemm_block(const DenseKernels& kern, int64_t M, int64_t N, int64_t kc, const float* a, int64_t lda, const float* b,
                int64_t panel_stride, float* c, int64_t ldc, bool accumulate, const TileEpilogue* ep) {
  const int mr = kern.mr, nr = kern.nr;
  const int64_t panels_per_tile = nr / kPanelWidth;
  const int64_t n_tiles = (M + mr - 1) / mr;
  for (int64_t n0 = 0, p = 0; n0 < N; n0 += nr, p += panels_per_tile) {
    const int cols = int(std::min<int64_t>(nr, N - n0));
    const float* bp = b + p * panel_stride;
    // The next B micro-panel (kc x 16 per panel, one 64-byte line per k) lives in another page of L3/DRAM: fetch
    // it into L1/L2 spread over this panel's tiles, so the next panel's first tile does not stall on each line
    // (+~4% at N >= 768, 1 thread, CPU time; small next to the C-tile prefetch in the kernels).
    const int64_t next_panels = n0 + nr < N ? std::min<int64_t>(panels_per_tile, (N - n0 - nr + 15) / 16) : 0;
    const int64_t lines_per_tile = (next_panels * kc + n_tiles - 1) / n_tiles;
    const float* next = bp + panels_per_tile * panel_stride;  // cursor: line pk of panel pq of the next tile column
    int64_t pq = 0, pk = 0;
    for (int64_t i = 0; i < M; i += mr) {
      for (int64_t l = 0; l < lines_per_tile && pq < next_panels; ++l) {
        FFFBERT_PREFETCH(next + pq * panel_stride + pk * kPanelWidth);
        if (++pk == kc) pk = 0, ++pq;
      }
      const int rows = int(std::min<int64_t>(mr, M - i));
      float* ct = c + i * ldc + n0;
      kern.gemm_tile(kc, a + i * (lda > 0 ? lda : kc), lda, bp, panel_stride, ct, ldc, rows, cols, accumulate);
      if (ep) {
        kern.epilogue(ct, ldc, rows, cols, ep->bias ? ep->bias + n0 : nullptr, ep->act,
                      ep->res ? ep->res + i * ep->ldr + n0 : nullptr, ep->ldr);
      }
    }
  }
}

namespace {

// Rows [m0, m1) x panels [p0, p1) of C, all k blocks. k blocks depend only on K and the ISA (never on the
// split), and every C element is the same FMA sequence in any tile shape: results do not depend on threads.
// a_in_place: the micro-kernel reads row-major A directly (alpha == 1, so the values are those packing makes).
void gemm_task(const DenseKernels& kern, const GemmArgs& g, int64_t kc, int64_t m0, int64_t m1, int64_t p0, int64_t p1,
               bool a_in_place) {
  thread_local FloatBuffer a_buf;
  float* a = a_in_place ? nullptr : a_buf.reserve(size_t(kern.mc) * size_t(kc));
  const int64_t n0 = p0 * kPanelWidth;
  const int64_t cols = std::min(g.N, p1 * kPanelWidth) - n0;
  for (int64_t k0 = 0; k0 < g.K; k0 += kc) {
    const int64_t kcb = std::min(kc, g.K - k0);
    const bool last = k0 + kcb == g.K;
    for (int64_t i0 = m0; i0 < m1; i0 += kern.mc) {
      const int64_t mb = std::min<int64_t>(kern.mc, m1 - i0);
      const float* a_src = g.a + i0 * g.a_rs + k0 * g.a_cs;
      if (!a_in_place) pack_a(a_src, g.a_rs, g.a_cs, mb, kcb, g.alpha, kern.mr, a);
      TileEpilogue ep = g.ep;
      if (ep.bias) ep.bias += n0;
      if (ep.res) ep.res += i0 * ep.ldr + n0;
      gemm_block(kern, mb, cols, kcb, a_in_place ? a_src : a, a_in_place ? g.a_rs : 0,
                 g.b + p0 * g.panel_stride + k0 * kPanelWidth, g.panel_stride, g.c + i0 * g.ldc + n0, g.ldc,
                 g.accumulate || k0 > 0, last && ep.active() ? &ep : nullptr);
    }
  }
}

// Few rows (A read in place, a few KB per k block, L1/L2-resident): panels [p0, p1) one after the other, each
// through all of K before the next. Panel p + 1 follows panel p in memory, so B streams sequentially; gemm_task's
// k-blocked order reads 16 KB runs 48 KB apart at K = 768. 16 x 2304 x 768, cold weights, 1 thread, CPU time:
// -5..-9% (/tmp micro-benchmark); the kernels' gemm_tile_stream keeps the stream ahead on top of that. The k
// blocks, their order and the C accumulation between them are those of gemm_task: every element rounds the same.
void gemm_task_panels(const DenseKernels& kern, const GemmArgs& g, int64_t kc, int64_t p0, int64_t p1) {
  const auto tile = kern.gemm_tile_stream ? kern.gemm_tile_stream : kern.gemm_tile;
  const int64_t per_group = kern.nr / kPanelWidth;
  const bool ep_active = g.ep.active();
  for (int64_t p = p0; p < p1; p += per_group) {
    const int64_t n0 = p * kPanelWidth;
    const int cols = int(std::min<int64_t>(kern.nr, g.N - n0));
    const float* bp = g.b + p * g.panel_stride;
    for (int64_t k0 = 0; k0 < g.K; k0 += kc) {
      const int64_t kcb = std::min(kc, g.K - k0);
      const bool last = k0 + kcb == g.K;
      for (int64_t i = 0; i < g.M; i += kern.mr) {
        const int rows = int(std::min<int64_t>(kern.mr, g.M - i));
        float* ct = g.c + i * g.ldc + n0;
        tile(kcb, g.a + i * g.a_rs + k0, g.a_rs, bp + k0 * kPanelWidth, g.panel_stride, ct, g.ldc, rows, cols,
             g.accumulate || k0 > 0);
        if (last && ep_active) {
          kern.epilogue(ct, g.ldc, rows, cols, g.ep.bias ? g.ep.bias + n0 : nullptr, g.ep.act,
                        g.ep.res ? g.ep.res + i * g.ep.ldr + n0 : nullptr, g.ep.ldr);
        }
      }
    }
  }
}

}  // namespace

// Rows up to which gemm_parallel takes the panel-sequential path (A in place, at most 32 x K floats).
constexpr int64_t kSmallM = 32;

void gemm_parallel(const DenseKernels& kern, const GemmArgs& g, ThreadPool& pool) {
  if (g.M <= 0 || g.N <= 0 || g.K <= 0) return;
  // Even k blocks of at most kern.kc: K = 768 -> 3 x 256, K = 3072 -> 12 x 256.
  const int64_t n_kblocks = (g.K + kern.kc - 1) / kern.kc;
  const int64_t kc = (g.K + n_kblocks - 1) / n_kblocks;
  const int64_t panels = panel_count(g.N);
  const int64_t per_group = kern.nr / kPanelWidth;
  const int64_t groups = (panels + per_group - 1) / per_group;
  const int64_t m_tiles = (g.M + kern.mr - 1) / kern.mr;
  const int64_t tiles_per_block = kern.mc / kern.mr;
  const int64_t threads = pool.threads();
  // Enough rows: tasks of at most one A block (mc rows), at least one per thread; each streams all of B once
  // per k block, as a single thread would. Few rows (one sentence): split the columns, each task re-packing
  // the small A.
  int64_t tm = 1, tn = 1;
  if (double(g.M) * double(g.N) * double(g.K) < double(1 << 17) || threads == 1) {
    tm = (m_tiles + tiles_per_block - 1) / tiles_per_block;
  } else if (m_tiles >= 4 * threads) {
    tm = std::max(threads, (m_tiles + tiles_per_block - 1) / tiles_per_block);
  } else {
    tm = (m_tiles + tiles_per_block - 1) / tiles_per_block;
    tn = std::min(groups, 2 * threads);
  }
  tm = std::min(tm, m_tiles);
  // Few rows (one sentence): panel-sequential tasks, contiguous runs of panels, A read in place (packing it
  // would be redone by every task). 2 tasks per thread: a worker descheduled on a loaded machine holds up less.
  if (g.M <= kSmallM && g.a_cs == 1 && g.alpha == 1.0f) {
    const int64_t tasks =
        tm * tn == 1 && (threads == 1 || g.M * g.N * g.K < (int64_t(1) << 17)) ? 1 : std::min(groups, 2 * threads);
    pool.parallel_tasks(tasks, [&](int64_t t, int) {
      const int64_t p0 = std::min(panels, (t * groups / tasks) * per_group);
      const int64_t p1 = std::min(panels, ((t + 1) * groups / tasks) * per_group);
      if (p0 < p1) gemm_task_panels(kern, g, kc, p0, p1);
    });
    return;
  }
  // Column tasks would each pack the same few rows of A: read them in place instead (M < 4 tiles per thread,
  // e.g. 16 tokens x K = 3072 is 192 KB, L2-resident).
  const bool a_in_place = tn > 1 && g.a_cs == 1 && g.alpha == 1.0f;
  pool.parallel_tasks(tm * tn, [&](int64_t task, int) {
    const int64_t im = task / tn, in = task % tn;
    const int64_t m0 = std::min(g.M, (im * m_tiles / tm) * kern.mr);
    const int64_t m1 = std::min(g.M, ((im + 1) * m_tiles / tm) * kern.mr);
    const int64_t p0 = std::min(panels, (in * groups / tn) * per_group);
    const int64_t p1 = std::min(panels, ((in + 1) * groups / tn) * per_group);
    if (m0 < m1 && p0 < p1) gemm_task(kern, g, kc, m0, m1, p0, p1, a_in_place);
  });
}

}  // namespace gemm

// --- PackedLinear --------------------------------------------------------------------------------------------

void PackedLinearDeleter::operator()(PackedLinear* p) const { delete p; }

PackedLinearPtr linear_create(const float* weight, const float* bias, int64_t out_features, int64_t in_features,
                              LinearDtype dtype) {
  if (out_features < 1 || in_features < 1 || !weight) return nullptr;
  if (dtype != LinearDtype::f32 && dtype != LinearDtype::int8 && dtype != LinearDtype::bf16) return nullptr;
  const int64_t panels = gemm::panel_count(out_features);
  if (panels > (int64_t(1) << 40) / kPanelWidth / in_features) return nullptr;  // > 4 TiB: refuse
  try {
    PackedLinearPtr w(new PackedLinear);
    w->N = out_features;
    w->K = in_features;
    w->dtype = dtype;
    if (dtype != LinearDtype::f32) {
      if (!linear_pack_lowp(*w, weight)) return nullptr;
      if (bias) w->bias.assign(bias, bias + out_features);
      return w;
    }
    const int64_t stride = in_features * kPanelWidth;
    gemm::pack_b(weight, 1, in_features, in_features, out_features, w->panels.reserve(size_t(panels * stride)), stride,
                 0, panels);
    if (bias) w->bias.assign(bias, bias + out_features);
    return w;
  } catch (const std::bad_alloc&) { return nullptr; }
}

LinearDtype linear_dtype(const PackedLinear& w) { return w.dtype; }
int64_t linear_out_features(const PackedLinear& w) { return w.N; }
int64_t linear_in_features(const PackedLinear& w) { return w.K; }
int64_t linear_weight_bytes(const PackedLinear& w) {
  return int64_t((w.panels.capacity() + w.lowp.capacity() + w.bias.size() + w.scale.size()) * sizeof(float) +
                 w.colsum.size() * sizeof(int32_t));
}

void linear_copy_rows(const PackedLinear& w, int64_t n0, int64_t rows, float* out) {
  if (w.dtype != LinearDtype::f32) return linear_copy_rows_lowp(w, n0, rows, out);
  const int64_t K = w.K, stride = K * kPanelWidth;
  for (int64_t n = n0; n < n0 + rows; ++n) {
    // element (n, k) of the weight = op(B)(k, n): panel n / 16, offset k * 16 + n % 16
    const float* src = w.panels.data() + (n / kPanelWidth) * stride + n % kPanelWidth;
    float* dst = out + (n - n0) * K;
    for (int64_t k = 0; k < K; ++k) dst[k] = src[k * kPanelWidth];
  }
}

bool linear_set_bias(PackedLinear& w, const float* bias) {
  try {
    if (bias)
      w.bias.assign(bias, bias + w.N);
    else
      std::vector<float>().swap(w.bias);
  } catch (const std::bad_alloc&) { return false; }
  return true;
}

namespace {

bool overlaps(const float* a, int64_t rows_a, int64_t ld_a, const float* b, int64_t rows_b, int64_t ld_b, int64_t n) {
  const auto a0 = reinterpret_cast<uintptr_t>(a), a1 = reinterpret_cast<uintptr_t>(a + (rows_a - 1) * ld_a + n);
  const auto b0 = reinterpret_cast<uintptr_t>(b), b1 = reinterpret_cast<uintptr_t>(b + (rows_b - 1) * ld_b + n);
  return a0 < b1 && b0 < a1;
}

// Rows per parallel_for chunk for the naive paths: ~64K multiply-adds at least.
int64_t naive_grain(int64_t N, int64_t K) {
  return std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, N * K));
}

}  // namespace

void linear_forward(const PackedLinear& w, const float* x, int64_t M, int64_t ldx, float* y, int64_t ldy,
                    const Epilogue& ep, Isa isa, ThreadPool& pool) {
  if (M <= 0) return;
  const int64_t N = w.N, K = w.K;
  const float* res = ep.residual;
  int64_t ldr = ep.ldr;
  const float* bias = w.bias.empty() ? nullptr : w.bias.data();
  if (w.dtype != LinearDtype::f32) {
    // The tiles read the residual just before writing y: only a partial overlap needs the copy.
    gemm::FloatBuffer copy;
    Epilogue e = ep;
    if (res && !(res == y && ldr == ldy) && overlaps(res, M, ldr, y, M, ldy, N)) {
      copy.reserve(size_t(M * N));
      for (int64_t i = 0; i < M; ++i) std::memcpy(copy.data() + i * N, res + i * ldr, size_t(N) * sizeof(float));
      e.residual = copy.data(), e.ldr = N;
    }
    linear_forward_lowp(w, x, M, ldx, y, ldy, e,
                        LowpVariant{&int8_kernels_for(isa, M, N, K), &bf16_kernels_for(isa), true}, pool);
    return;
  }
  const DenseKernels& kern = dense_kernels_for(isa);
  // The pre-LN residual h = h + x W^T (+ b): y is its own residual and starts the accumulation (no copy; the sum
  // is r + x W^T + b in that order). Any other residual overlapping y is copied first: the first k block (and
  // the naive path) overwrite y before the epilogue adds the residual.
  const bool accumulate_into_y = kern.gemm_tile && res == y && ldr == ldy && ep.act == Activation::none;
  gemm::FloatBuffer res_copy;
  if (res && !accumulate_into_y && overlaps(res, M, ldr, y, M, ldy, N)) {
    float* copy = res_copy.reserve(size_t(M * N));
    for (int64_t i = 0; i < M; ++i) std::memcpy(copy + i * N, res + i * ldr, size_t(N) * sizeof(float));
    res = copy;
    ldr = N;
  }
  if (!kern.gemm_tile) {
    pool.parallel_for(M, naive_grain(N, K), [&](int64_t m0, int64_t m1, int) {
      scalar::linear_naive(w.panels.data(), bias, N, K, x, ldx, m0, m1, y, ldy, ep.act, res, ldr);
    });
    return;
  }
  gemm::GemmArgs g;
  g.M = M, g.N = N, g.K = K;
  g.a = x, g.a_rs = ldx, g.a_cs = 1;
  g.b = w.panels.data(), g.panel_stride = K * kPanelWidth;
  g.c = y, g.ldc = ldy;
  g.accumulate = accumulate_into_y;
  g.ep.bias = bias, g.ep.act = ep.act, g.ep.res = accumulate_into_y ? nullptr : res, g.ep.ldr = ldr;
  gemm::gemm_parallel(kern, g, pool);
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, Isa isa, ThreadPool& pool) {
  if (M <= 0 || N <= 0) return;
  const auto scale_c = [&](float s) {
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = s == 0.0f ? 0.0f : s * C[i * ldc + j];
    }
  };
  if (K <= 0 || alpha == 0.0f) {  // BLAS: A and B are not read
    if (beta != 1.0f) scale_c(beta);
    return;
  }
  const DenseKernels& kern = dense_kernels_for(isa);
  if (!kern.gemm_tile) {
    pool.parallel_for(M, naive_grain(N, K), [&](int64_t m0, int64_t m1, int) {
      scalar::sgemm_naive(trans_a, trans_b, m1 - m0, N, K, alpha, trans_a ? A + m0 : A + m0 * lda, lda, B, ldb, beta,
                          C + m0 * ldc, ldc);
    });
    return;
  }
  if (beta != 0.0f && beta != 1.0f) scale_c(beta);
  const int64_t panels = gemm::panel_count(N), stride = K * kPanelWidth;
  gemm::FloatBuffer packed(size_t(panels * stride));
  pool.parallel_for(panels, 1, [&](int64_t p0, int64_t p1, int) {
    gemm::pack_b(B, trans_b ? 1 : ldb, trans_b ? ldb : 1, K, N, packed.data(), stride, p0, p1);
  });
  gemm::GemmArgs g;
  g.M = M, g.N = N, g.K = K;
  g.a = A, g.a_rs = trans_a ? 1 : lda, g.a_cs = trans_a ? lda : 1, g.alpha = alpha;
  g.b = packed.data(), g.panel_stride = stride;
  g.c = C, g.ldc = ldc;
  g.accumulate = beta != 0.0f;
  gemm::gemm_parallel(kern, g, pool);
}

}  // namespace fffbert
