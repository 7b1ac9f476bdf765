// int8 / bf16 Linear layers (dense.h LinearDtype): weight packing, kernel selection, and the forward driver
// (activation conversion, tiles over the pool, the fp32 epilogue). Kernels: kernels/<isa>/lowp*.cpp.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/dense_kernels.h"
#include "linear.h"

namespace fffbert {
namespace {

constexpr int64_t kMaxInt8K = 65536;  // 255 * 127 * 65536 < 2^31: vpdpbusd's u8 sums cannot overflow
constexpr int64_t kPad = 32;          // scale / colsum padded to whole 2-panel tiles

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

}  // namespace

// --- packing -------------------------------------------------------------------------------------------------

bool linear_pack_lowp(PackedLinear& w, const float* weight) {
  const int64_t N = w.N, K = w.K;
  const int64_t panels = gemm::panel_count(N);
  if (w.dtype == LinearDtype::int8) {
    if (K > kMaxInt8K) return false;
    w.kpad = round_up(K, 4);
    w.panel_bytes = w.kpad * 16;
    const int64_t npad = round_up(N, kPad);
    w.scale.assign(size_t(npad), 0.0f);
    w.colsum.assign(size_t(npad), 0);
    int8_t* q = reinterpret_cast<int8_t*>(w.lowp.reserve(size_t(panels * w.panel_bytes + 3) / 4));
    std::memset(q, 0, size_t(panels * w.panel_bytes));
    std::vector<uint8_t> row(size_t(w.kpad));
    for (int64_t n = 0; n < N; ++n) {
      w.scale[size_t(n)] = scalar::quantize_row_int8(weight + n * K, K, w.kpad, false, row.data());
      int8_t* dst = q + (n / 16) * w.panel_bytes + (n % 16) * 4;
      int32_t sum = 0;
      for (int64_t k = 0; k < K; ++k) {
        const int8_t v = int8_t(row[size_t(k)]);
        dst[(k / 4) * 64 + k % 4] = v;
        sum += v;
      }
      w.colsum[size_t(n)] = sum;
    }
    return true;
  }
  // bf16
  w.kpad = round_up(K, 2);
  w.panel_bytes = w.kpad * 16 * 2;
  uint16_t* q = reinterpret_cast<uint16_t*>(w.lowp.reserve(size_t(panels * w.panel_bytes) / 4));
  std::memset(q, 0, size_t(panels * w.panel_bytes));
  for (int64_t n = 0; n < N; ++n) {
    uint16_t* dst = q + (n / 16) * (w.panel_bytes / 2) + (n % 16) * 2;
    for (int64_t k = 0; k < K; ++k) dst[(k / 2) * 32 + k % 2] = scalar::bf16_round(weight[n * K + k]);
  }
  return true;
}

void linear_copy_rows_lowp(const PackedLinear& w, int64_t n0, int64_t rows, float* out) {
  const int64_t K = w.K;
  for (int64_t n = n0; n < n0 + rows; ++n) {
    float* dst = out + (n - n0) * K;
    if (w.dtype == LinearDtype::int8) {
      const int8_t* src = reinterpret_cast<const int8_t*>(w.lowp.data()) + (n / 16) * w.panel_bytes + (n % 16) * 4;
      for (int64_t k = 0; k < K; ++k) dst[k] = float(src[(k / 4) * 64 + k % 4]) * w.scale[size_t(n)];
    } else {
      const uint16_t* src =
          reinterpret_cast<const uint16_t*>(w.lowp.data()) + (n / 16) * (w.panel_bytes / 2) + (n % 16) * 2;
      for (int64_t k = 0; k < K; ++k) {
        const uint32_t b = uint32_t(src[(k / 2) * 32 + k % 2]) << 16;
        std::memcpy(dst + k, &b, 4);
      }
    }
  }
}

// --- kernel selection ----------------------------------------------------------------------------------------

int lowp_variants(LowpVariant* out, int capacity) {
  int n = 0;
  auto add = [&](const Int8Kernels* i8, const Bf16Kernels* b16, bool runnable) {
    if (n < capacity) out[n] = LowpVariant{i8, b16, runnable};
    ++n;
  };
  add(&scalar::int8_kernels(), &scalar::bf16_kernels(), true);
#if defined(FFFBERT_HAVE_AVX2)
  add(&avx2::int8_kernels(), &avx2::bf16_kernels(), isa_supported(Isa::avx2));
  add(&avx2::int8_kernels_avxvnni(), nullptr, isa_supported(Isa::avx2) && cpu_features().avx_vnni);
#endif
#if defined(FFFBERT_HAVE_AVX512)
  add(&avx512::int8_kernels_vnni(), nullptr, isa_supported(Isa::avx512) && cpu_features().avx512_vnni);
  add(nullptr, &avx512::bf16_kernels_dot(), isa_supported(Isa::avx512) && cpu_features().avx512_bf16);
  add(&avx512::int8_kernels_amx(), nullptr,
      isa_supported(Isa::avx512) && cpu_features().avx512_vnni && amx_permitted());
  add(nullptr, &avx512::bf16_kernels_amx(),
      isa_supported(Isa::avx512) && cpu_features().avx512_vnni && cpu_features().amx_bf16 && amx_permitted());
#endif
#if defined(FFFBERT_HAVE_NEON)
  add(&neon::int8_kernels_sdot(), nullptr, isa_supported(Isa::neon) && cpu_features().neon_dotprod);
  add(&neon::int8_kernels_i8mm(), nullptr, isa_supported(Isa::neon) && cpu_features().neon_i8mm);
  add(nullptr, &neon::bf16_kernels(), isa_supported(Isa::neon));
  add(nullptr, &neon::bf16_kernels_bf16(), isa_supported(Isa::neon) && cpu_features().neon_bf16);
#endif
  return n;
}

const Int8Kernels& int8_kernels_for(Isa isa, int64_t M, int64_t N, int64_t K) {
  const CpuFeatures& f = cpu_features();
  switch (isa_runnable(isa)) {
#if defined(FFFBERT_HAVE_AVX512)
    case Isa::avx512:
      if (f.avx512_vnni && amx_permitted() && M != 1) return avx512::int8_kernels_amx();
      return f.avx512_vnni ? avx512::int8_kernels_vnni()
             : f.avx_vnni  ? avx2::int8_kernels_avxvnni()
                           : avx2::int8_kernels();
#endif
#if defined(FFFBERT_HAVE_AVX2)
    case Isa::avx2: return f.avx_vnni ? avx2::int8_kernels_avxvnni() : avx2::int8_kernels();
#endif
#if defined(FFFBERT_HAVE_NEON)
    case Isa::neon:
      return f.neon_i8mm      ? neon::int8_kernels_i8mm()
             : f.neon_dotprod ? neon::int8_kernels_sdot()
                              : scalar::int8_kernels();
#endif
    default: return scalar::int8_kernels();
  }
}

const Bf16Kernels& bf16_kernels_for(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa_runnable(isa)) {
#if defined(FFFBERT_HAVE_AVX512)
    case Isa::avx512:
      if (f.avx512_vnni && f.amx_bf16 && amx_permitted()) return avx512::bf16_kernels_amx();
      return f.avx512_bf16 ? avx512::bf16_kernels_dot() : avx2::bf16_kernels();
#endif
#if defined(FFFBERT_HAVE_AVX2)
    case Isa::avx2: return avx2::bf16_kernels();
#endif
#if defined(FFFBERT_HAVE_NEON)
    case Isa::neon: return cpu_features().neon_bf16 ? neon::bf16_kernels_bf16() : neon::bf16_kernels();
#endif
    default: return scalar::bf16_kernels();
  }
}

const char* linear_kernel_name(LinearDtype dtype, Isa isa) {
  if (dtype == LinearDtype::int8) return int8_kernels_for(isa).name;
  if (dtype == LinearDtype::bf16) return bf16_kernels_for(isa).name;
  return isa_name(isa_runnable(isa));
}

// --- forward -------------------------------------------------------------------------------------------------

void linear_forward_lowp(const PackedLinear& w, const float* x, int64_t M, int64_t ldx, float* y, int64_t ldy,
                         const Epilogue& ep, const LowpVariant& variant, ThreadPool& pool) {
  if (M <= 0) return;
  const int64_t N = w.N, K = w.K, kpad = w.kpad;
  const bool int8 = w.dtype == LinearDtype::int8;
  const Int8Kernels* ik = int8 ? variant.int8 : nullptr;
  const Bf16Kernels* bk = int8 ? nullptr : variant.bf16;
  const DenseKernels& dk = dense_kernels_for(int8 ? ik->isa : bk->isa);
  const bool u8 = int8 && ik->act_u8;
  const float* bias = w.bias.empty() ? nullptr : w.bias.data();

  // A converted once per call: rows of lda bytes, 64-aligned and padded to the end (kernels may read whole
  // k blocks past kpad), zero rows up to a multiple of 16 (AMX tiles read 16 rows), then (int8) the row scales.
  const int64_t row_bytes = int8 ? kpad : kpad * 2, lda_bytes = round_up(row_bytes, 64), m16 = round_up(M, 16);
  thread_local gemm::FloatBuffer scratch;
  // The conversions run on the kernel's tier: AVX-512 where the kernel is an AVX-512 one (the same bytes).
  auto quantize = scalar::quantize_row_int8;
  auto round = scalar::round_row_bf16;
#if defined(FFFBERT_HAVE_AVX512)
  if ((int8 ? ik->isa : bk->isa) == Isa::avx512) quantize = avx512::quantize_row_int8, round = avx512::round_row_bf16;
#endif
  uint8_t* a = reinterpret_cast<uint8_t*>(scratch.reserve(size_t(m16 * lda_bytes / 4 + M)));
  float* xs = reinterpret_cast<float*>(a + m16 * lda_bytes);
  std::memset(a + M * lda_bytes, 0, size_t((m16 - M) * lda_bytes));
  pool.parallel_for(M, row_grain(K), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      if (int8) {
        xs[r] = quantize(x + r * ldx, K, lda_bytes, u8, a + r * lda_bytes);
      } else {
        round(x + r * ldx, K, lda_bytes / 2, reinterpret_cast<uint16_t*>(a + r * lda_bytes));
      }
    }
  });

  const bool has_tile = int8 ? ik->tile != nullptr : bk->tile != nullptr;
  if (!has_tile) {  // the scalar oracle, a row at a time through a row buffer (y may be the residual)
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, N * K));
    pool.parallel_for(M, grain, [&](int64_t m0, int64_t m1, int) {
      std::vector<float> row(static_cast<size_t>(N));
      for (int64_t i = m0; i < m1; ++i) {
        const uint8_t* ai = a + i * lda_bytes;
        if (int8) {
          scalar::linear_int8_naive(reinterpret_cast<const int8_t*>(w.lowp.data()), w.panel_bytes, w.scale.data(), N, K,
                                    reinterpret_cast<const int8_t*>(ai), lda_bytes, xs + i, 1, row.data(), N);
        } else {
          scalar::linear_bf16_naive(reinterpret_cast<const uint16_t*>(w.lowp.data()), w.panel_bytes / 2, N, K,
                                    reinterpret_cast<const uint16_t*>(ai), lda_bytes / 2, 1, row.data(), N, bk->order);
        }
        dk.epilogue(row.data(), N, 1, int(N), bias, ep.act, ep.residual ? ep.residual + i * ep.ldr : nullptr, ep.ldr);
        std::memcpy(y + i * ldy, row.data(), size_t(N) * sizeof(float));
      }
    });
    return;
  }

  // Tiles of mr x nr: blocks of mc rows (A block ~256 KB, L2) x runs of column tiles; inside a task, each
  // column tile's B (nr x K) stays in L1/L2 while the block's row tiles pass over it.
  const int mr = int8 ? ik->mr : bk->mr, nr = int8 ? ik->nr : bk->nr;
  void (*release)() = int8 ? ik->release : bk->release;
  const int64_t mc = std::max<int64_t>(mr, (int64_t(256) << 10) / lda_bytes / mr * mr);
  const int64_t m_blocks = (M + mc - 1) / mc, groups = (N + nr - 1) / nr;
  const int64_t threads = pool.threads();
  int64_t col_chunks = 1;
  if (threads > 1 && double(M) * double(N) * double(K) >= double(1 << 17)) {
    col_chunks = std::min(groups, std::max<int64_t>(1, (4 * threads + m_blocks - 1) / m_blocks));
  }
  const int64_t ldr = ep.ldr;
  const float* res = ep.residual;
  pool.parallel_tasks(m_blocks * col_chunks, [&](int64_t t, int) {
    const int64_t mb = t / col_chunks, cc = t % col_chunks;
    const int64_t i0 = mb * mc, i1 = std::min(M, i0 + mc);
    const int64_t g0 = cc * groups / col_chunks, g1 = (cc + 1) * groups / col_chunks;
    alignas(64) float tmp[16 * 32];
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t n0 = g * nr;
      const int cols = int(std::min<int64_t>(nr, N - n0));
      const uint8_t* bp = reinterpret_cast<const uint8_t*>(w.lowp.data()) + (n0 / 16) * w.panel_bytes;
      for (int64_t i = i0; i < i1; i += mr) {
        const int rows = int(std::min<int64_t>(mr, i1 - i));
        if (int8) {
          ik->tile(kpad / 4, a + i * lda_bytes, lda_bytes, reinterpret_cast<const int8_t*>(bp), w.panel_bytes,
                   w.colsum.data() + n0, xs + i, w.scale.data() + n0, tmp, nr, rows, cols);
        } else {
          bk->tile(kpad / 2, reinterpret_cast<const uint16_t*>(a + i * lda_bytes), lda_bytes / 2,
                   reinterpret_cast<const uint16_t*>(bp), w.panel_bytes / 2, tmp, nr, rows, cols);
        }
        // The epilogue reads the residual before the tile is written: y may be the residual itself.
        dk.epilogue(tmp, nr, rows, cols, bias ? bias + n0 : nullptr, ep.act, res ? res + i * ldr + n0 : nullptr, ldr);
        for (int r = 0; r < rows; ++r) std::memcpy(y + (i + r) * ldy + n0, tmp + r * nr, size_t(cols) * sizeof(float));
      }
    }
    if (release) release();
  });
}

}  // namespace fffbert
