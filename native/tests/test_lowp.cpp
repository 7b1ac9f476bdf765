// int8 and bf16 Linear layers (dense.h LinearDtype): every kernel this binary carries against the scalar oracle
// (bitwise: the integer sums and the bf16 accumulation order are the same by construction), thread counts
// bitwise, and the oracles against a float64 reference within the quantization / rounding bounds.
// u = 2^-24.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "fffbert/dense.h"
#include "kernels/lowp_kernels.h"
#include "linear.h"
#include "linear_case.h"
#include "test.h"

using namespace fffbert;

namespace {

using fffbert_test::pool;
using namespace fffbert_test;

// The SIMD kernels of one dtype this binary carries; those the CPU cannot run are reported as skipped.
std::vector<LowpVariant> simd_variants(LinearDtype dtype) {
  LowpVariant all[16];
  const int n = lowp_variants(all, 16);
  std::vector<LowpVariant> out;
  for (int i = 0; i < n && i < 16; ++i) {
    const char* name = dtype == LinearDtype::int8 ? (all[i].int8 ? all[i].int8->name : nullptr)
                                                  : (all[i].bf16 ? all[i].bf16->name : nullptr);
    if (!name || std::strcmp(name, "scalar") == 0) continue;
    if (all[i].runnable) {
      out.push_back(all[i]);
    } else {
      std::printf("  skipped: %s %s kernel not supported on this CPU\n", dtype == LinearDtype::int8 ? "int8" : "bf16",
                  name);
    }
  }
  return out;
}

const char* variant_name(const LowpVariant& v, LinearDtype dtype) {
  return dtype == LinearDtype::int8 ? v.int8->name : v.bf16->name;
}

const char* order_name(Bf16Order o) {
  return o == Bf16Order::odd_even      ? "odd_even"
         : o == Bf16Order::even_odd    ? "even_odd"
         : o == Bf16Order::amx_block16 ? "amx_block16"
                                       : "arm_bf16";
}

// The scalar oracle (no tile: the driver runs scalar::linear_*_naive) summing bf16 products in `order`.
LowpVariant oracle(Bf16Order order = Bf16Order::odd_even) {
  static const Bf16Kernels orders[] = {{"scalar", Isa::scalar, 0, 0, nullptr, Bf16Order::odd_even},
                                       {"scalar", Isa::scalar, 0, 0, nullptr, Bf16Order::even_odd},
                                       {"scalar", Isa::scalar, 0, 0, nullptr, Bf16Order::amx_block16},
                                       {"scalar", Isa::scalar, 0, 0, nullptr, Bf16Order::arm_bf16}};
  return LowpVariant{&scalar::int8_kernels(), &orders[int(order)], true};
}

// The oracle a variant must match bitwise: its own bf16 order.
LowpVariant oracle_of(const LowpVariant& v, LinearDtype dtype) {
  return oracle(dtype == LinearDtype::bf16 ? v.bf16->order : Bf16Order::odd_even);
}

// One case: the variant against the scalar oracle on strided views (y's padding must stay intact). Bitwise
// without an activation; with one, the products are bitwise equal and only the activation's approximation
// differs (dense.h's bounds: GELU 3 u |v| + 4 ulp (<= 8 u |GELU(v)|) against std::erf's ~1 ulp, tanh 4 u, plus
// the residual add's rounding).
void check_case(const LowpVariant& v, LinearDtype dtype, int64_t M, int64_t N, int64_t K, Activation act,
                bool with_bias, Res res, int threads, std::mt19937& rng) {
  const std::vector<float> W = random_vec(rng, size_t(N * K)), bias = random_vec(rng, size_t(N));
  const int64_t ldx = K + 3, ldy = N + 2;
  const std::vector<float> x = random_vec(rng, size_t(M * ldx), -2.0f, 2.0f);
  const std::vector<float> r = random_vec(rng, size_t(M * ldy), -2.0f, 2.0f);
  PackedLinearPtr w = linear_create(W.data(), with_bias ? bias.data() : nullptr, N, K, dtype);
  CHECK_MSG(w && linear_dtype(*w) == dtype, "linear_create N=%lld K=%lld", (long long)N, (long long)K);
  if (!w) return;
  LinearOutputs out(res, act, r, M, ldy);
  std::vector<float>&got = out.got, &want = out.want;
  std::vector<float> raw(size_t(M * ldy), 7.0f);
  linear_forward_lowp(*w, x.data(), M, ldx, got.data(), ldy, out.eg, v, pool(threads));
  linear_forward_lowp(*w, x.data(), M, ldx, want.data(), ldy, out.ew, oracle_of(v, dtype), pool(1));
  if (act != Activation::none)
    linear_forward_lowp(*w, x.data(), M, ldx, raw.data(), ldy, Epilogue{}, oracle_of(v, dtype), pool(1));
  int bad = 0;
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < ldy; ++j) {
      const size_t at = size_t(i * ldy + j);
      double tol = 0.0;
      if (j < N && act != Activation::none) {
        const double pre = raw[at];  // the layer's own bias included
        tol = act == Activation::gelu_erf ? 3 * kU * std::fabs(pre) + 10 * kU * std::fabs(gelu_exact(pre)) : 5 * kU;
        if (res != Res::none) tol += 2 * kU * (std::fabs(gelu_exact(pre)) + 1.0 + std::fabs(r[at]));
      }
      const double err = std::fabs(double(got[at]) - double(want[at]));
      const bool same = tol == 0.0 ? std::memcmp(&got[at], &want[at], 4) == 0 : err <= tol;
      if (!same && ++bad <= 3) {
        CHECK_MSG(
            false,
            "%s %s M=%lld N=%lld K=%lld act=%d bias=%d res=%d threads=%d: [%lld, %lld] got %.9g want %.9g tol %.3g",
            variant_name(v, dtype), dtype == LinearDtype::int8 ? "int8" : "bf16", (long long)M, (long long)N,
            (long long)K, int(act), with_bias, int(res), threads, (long long)i, (long long)j, got[at], want[at], tol);
      }
    }
  }
}

void check_grid(LinearDtype dtype, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t ms[] = {1, 2, 3, 4, 5, 11, 12, 13, 17, 25, 67};
  const int64_t ns[] = {1, 3, 15, 16, 17, 31, 32, 33, 48, 67};
  const int64_t ks[] = {1, 2, 3, 4, 5, 7, 16, 33, 67};
  const Activation acts[] = {Activation::none, Activation::gelu_erf, Activation::tanh};
  for (const LowpVariant& v : simd_variants(dtype)) {
    int n = 0;
    for (int64_t M : ms) {
      for (int64_t N : ns) {
        const int64_t K = ks[size_t(n % 9)];
        check_case(v, dtype, M, N, K, acts[n % 3], n % 2 == 0, Res(n % 3), 1 + n % 3, rng);
        ++n;
      }
    }
    // BERT widths: K = 768 and 3072, one sentence and a block of rows, GELU and residual epilogues.
    check_case(v, dtype, 7, 67, 768, Activation::none, true, Res::aliased, 2, rng);
    check_case(v, dtype, 29, 50, 3072, Activation::none, true, Res::separate, 3, rng);
    check_case(v, dtype, 13, 96, 768, Activation::gelu_erf, true, Res::none, 2, rng);
    std::printf("  %s %s: %d shapes bitwise the scalar oracle\n", variant_name(v, dtype),
                dtype == LinearDtype::int8 ? "int8" : "bf16", n + 3);
  }
}

// The same layer and input on 1, 2 and 3 threads and through linear_forward's dispatch: bitwise identical.
void check_threads(LinearDtype dtype) {
  std::mt19937 rng(7);
  const int64_t M = 150, N = 200, K = 96;
  const std::vector<float> W = random_vec(rng, size_t(N * K)), b = random_vec(rng, size_t(N));
  const std::vector<float> x = random_vec(rng, size_t(M * K));
  PackedLinearPtr w = linear_create(W.data(), b.data(), N, K, dtype);
  if (!w) {
    CHECK(false);
    return;
  }
  for (const LowpVariant& v : simd_variants(dtype)) {
    std::vector<float> y1(size_t(M * N)), y;
    linear_forward_lowp(*w, x.data(), M, K, y1.data(), N, Epilogue{}, v, pool(1));
    for (int t = 2; t <= 3; ++t) {
      y.assign(size_t(M * N), 0.0f);
      linear_forward_lowp(*w, x.data(), M, K, y.data(), N, Epilogue{}, v, pool(t));
      CHECK_MSG(std::memcmp(y.data(), y1.data(), y.size() * 4) == 0, "%s threads=%d differs from 1 thread",
                variant_name(v, dtype), t);
    }
  }
  for (int i = 0; i < kIsaCount; ++i) {
    if (!isa_supported(Isa(i))) continue;
    std::vector<float> ya(size_t(M * N)), yb(size_t(M * N));
    linear_forward(*w, x.data(), M, K, ya.data(), N, Epilogue{}, Isa(i), pool(2));
    const Bf16Order order = bf16_kernels_for(Isa(i)).order;  // the dispatched kernel's oracle
    linear_forward_lowp(*w, x.data(), M, K, yb.data(), N, Epilogue{}, oracle(order), pool(1));
    CHECK_MSG(std::memcmp(ya.data(), yb.data(), ya.size() * 4) == 0, "linear_forward %s %s differs from scalar",
              isa_name(Isa(i)), dtype == LinearDtype::int8 ? "int8" : "bf16");
  }
}

}  // namespace

TEST(lowp_int8_kernels_vs_oracle) { check_grid(LinearDtype::int8, 11); }
TEST(lowp_bf16_kernels_vs_oracle) { check_grid(LinearDtype::bf16, 12); }
TEST(lowp_int8_threads_and_dispatch_bitwise) { check_threads(LinearDtype::int8); }
TEST(lowp_bf16_threads_and_dispatch_bitwise) { check_threads(LinearDtype::bf16); }

constexpr Bf16Order kOrders[] = {Bf16Order::odd_even, Bf16Order::even_odd, Bf16Order::amx_block16, Bf16Order::arm_bf16};

// Which accumulation order a bf16 matrix-unit kernel follows: its output against the oracle in every Bf16Order
// on awkward shapes (K pairs not a multiple of 16, single pairs, K = 768 / 3072), with operands spread over
// 2^+-8 so that the orders round differently. Prints each order's mismatches and largest ulp distance, and
// requires the kernel's declared order (Bf16Kernels::order; the environment variable `env` = odd_even |
// even_odd | amx_block16 | arm_bf16 overrides it, to try another) to match bitwise. Skipped, with the reason,
// where the kernel does not run.
void check_bf16_order(const char* kernel, const char* env, const char* why_not) {
  LowpVariant all[16];
  const int count = std::min(16, lowp_variants(all, 16));
  const LowpVariant* v = nullptr;
  for (int i = 0; i < count; ++i) {
    if (all[i].bf16 && std::strcmp(all[i].bf16->name, kernel) == 0) v = &all[i];
  }
  if (!v || !v->runnable) {
    std::printf("  skipped: %s %s\n", kernel, v ? why_not : "is not compiled into this binary (other architecture)");
    return;
  }
  Bf16Order expect = v->bf16->order;
  if (const char* e = std::getenv(env)) {
    for (Bf16Order o : kOrders) {
      if (std::strcmp(e, order_name(o)) == 0) expect = o;
    }
  }
  std::mt19937 rng(21);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_int_distribution<int> e(-8, 8);
  const int64_t shapes[][3] = {{1, 1, 2},   {3, 17, 1},   {5, 33, 31},   {16, 32, 32},  {17, 31, 33},
                               {7, 67, 67}, {33, 48, 64}, {13, 40, 768}, {4, 20, 3072}, {67, 67, 67}};
  int64_t mismatches[4] = {0, 0, 0, 0}, total = 0;
  uint32_t max_ulp[4] = {0, 0, 0, 0};
  for (const auto& sh : shapes) {
    const int64_t M = sh[0], N = sh[1], K = sh[2];
    std::vector<float> W(size_t(N * K)), x(size_t(M * K));
    for (float& w : W) w = std::ldexp(u(rng), e(rng));
    for (float& w : x) w = std::ldexp(u(rng), e(rng));
    PackedLinearPtr w = linear_create(W.data(), nullptr, N, K, LinearDtype::bf16);
    if (!w) {
      CHECK(false);
      continue;
    }
    std::vector<float> got(size_t(M * N));
    linear_forward_lowp(*w, x.data(), M, K, got.data(), N, Epilogue{}, *v, pool(2));
    total += M * N;
    for (Bf16Order o : kOrders) {
      std::vector<float> want(size_t(M * N));
      linear_forward_lowp(*w, x.data(), M, K, want.data(), N, Epilogue{}, oracle(o), pool(1));
      for (size_t j = 0; j < want.size(); ++j) {
        int32_t a, b;  // ulp distance: the bit patterns as a monotonic integer line
        std::memcpy(&a, &got[j], 4);
        std::memcpy(&b, &want[j], 4);
        a = a < 0 ? int32_t(0x80000000u - uint32_t(a)) : a;
        b = b < 0 ? int32_t(0x80000000u - uint32_t(b)) : b;
        const uint32_t d = uint32_t(a > b ? int64_t(a) - b : int64_t(b) - a);
        if (d != 0) ++mismatches[int(o)];
        max_ulp[int(o)] = std::max(max_ulp[int(o)], d);
      }
    }
  }
  for (Bf16Order o : kOrders) {
    std::printf("  %s vs %-11s oracle: %s (%lld of %lld outputs differ, max %u ulp)%s\n", kernel, order_name(o),
                mismatches[int(o)] == 0 ? "MATCHES bitwise" : "differs", (long long)mismatches[int(o)],
                (long long)total, max_ulp[int(o)], o == expect ? " <- expected" : "");
  }
  CHECK_MSG(mismatches[int(expect)] == 0, "%s does not match the %s oracle bitwise", kernel, order_name(expect));
}

TEST(lowp_amx_bf16_order) {
  const CpuFeatures& f = cpu_features();
  char why[160];
  std::snprintf(why, sizeof why, "does not run here (AMX-BF16 %s, AVX512-VNNI %s, tiles granted by Linux %s)",
                f.amx_bf16 ? "yes" : "no", f.avx512_vnni ? "yes" : "no", amx_permitted() ? "yes" : "no");
  check_bf16_order("amx-bf16", "FFFBERT_AMX_BF16_ORDER", why);
}

TEST(lowp_neon_bf16_order) {
  check_bf16_order("neon-bf16", "FFFBERT_NEON_BF16_ORDER", "does not run here (no FEAT_BF16 in HWCAP2)");
}

TEST(lowp_quantize_row) {
  uint8_t q[8];
  const float x[5] = {1.0f, -0.5f, 0.25f, 127.0f / 254.0f, 0.0f};  // amax 1: q = round(127 x), 63.5 -> 64 (even)
  const float s = scalar::quantize_row_int8(x, 5, 8, false, q);
  CHECK(s == 1.0f / 127.0f);
  CHECK(int8_t(q[0]) == 127 && int8_t(q[1]) == -64 && int8_t(q[2]) == 32 && int8_t(q[3]) == 64 && q[4] == 0);
  CHECK(q[5] == 0 && q[6] == 0 && q[7] == 0);
  scalar::quantize_row_int8(x, 5, 8, true, q);  // u8: q + 128, padding 128
  CHECK(q[0] == 255 && q[1] == 64 && q[4] == 128 && q[7] == 128);
  const float zeros[3] = {0.0f, -0.0f, 0.0f};
  CHECK(scalar::quantize_row_int8(zeros, 3, 4, false, q) == 0.0f && q[0] == 0 && q[1] == 0);
  const float bad[3] = {1.0f, NAN, 2.0f}, inf[2] = {1.0f, -INFINITY};
  CHECK(std::isnan(scalar::quantize_row_int8(bad, 3, 4, false, q)) && q[0] == 0 && q[2] == 0);
  CHECK(std::isnan(scalar::quantize_row_int8(inf, 2, 4, false, q)));
  // bf16 rounding: nearest even, subnormals to signed zero, NaN quiet, overflow to infinity.
  CHECK(scalar::bf16_round(1.0f) == 0x3f80);
  CHECK(scalar::bf16_round(1.0f + 1.0f / 256) == 0x3f80);  // tie -> even
  CHECK(scalar::bf16_round(1.0f + 3.0f / 256) == 0x3f82);  // tie -> even (up)
  CHECK(scalar::bf16_round(1.0f + 1.0f / 256 + 1.0f / 65536) == 0x3f81);
  CHECK(scalar::bf16_round(-1e-40f) == 0x8000 && scalar::bf16_round(1e-40f) == 0);
  CHECK((scalar::bf16_round(NAN) & 0x7fc0) == 0x7fc0);
  CHECK(scalar::bf16_round(3.4e38f) == 0x7f80);
}

// The AVX-512 conversions against the scalar ones, byte for byte: rows of 1..67 (the masked tails) and 768
// elements, normal values, halfway cases of both roundings, subnormals, signed zeros, infinities and NaNs.
TEST(lowp_convert_avx512_is_scalar) {
#if defined(__x86_64__) || defined(_M_X64)
  if (!isa_supported(Isa::avx512)) {
    std::printf("  skipped: avx512 not supported on this CPU\n");
    return;
  }
  std::mt19937 rng(31);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  const float specials[] = {0.0f,
                            -0.0f,
                            1e-40f,
                            -1e-40f,
                            1.0f + 1.0f / 256,
                            1.0f + 3.0f / 256,
                            -1.5f / 127.0f,
                            63.5f / 127.0f,
                            3.4e38f,
                            -3.4e38f,
                            INFINITY,
                            -INFINITY,
                            NAN,
                            -NAN,
                            1.17549435e-38f};
  int rows = 0, bad = 0;
  for (int64_t K : {1, 2, 15, 16, 17, 31, 33, 48, 67, 768}) {
    for (int variant = 0; variant < 5; ++variant) {  // plain; with specials; with one NaN; all zero; near ties
      std::vector<float> x(static_cast<size_t>(K));
      for (float& v : x) v = variant == 3 ? 0.0f : u(rng);
      if (variant == 4) {  // amax 2: q = x * 63.5 lands on or next to halves, where a fused x * inv + magic rounds
        for (int64_t k = 0; k < K; ++k) x[size_t(k)] = (float(k % 121) - 60.0f + 0.5f) / 63.5f + float(k % 3) * 1e-7f;
        x[0] = 2.0f;
      }
      if (variant == 1) {
        for (int64_t k = 0; k < K; k += 3) x[size_t(k)] = specials[size_t(k / 3) % 10];  // finite ones
      }
      if (variant == 2) x[size_t(K / 2)] = NAN;
      const int64_t kpad = K + 64;
      for (bool u8 : {false, true}) {
        std::vector<uint8_t> qs(size_t(kpad), 1), qv(size_t(kpad), 2);
        const float ss = scalar::quantize_row_int8(x.data(), K, kpad, u8, qs.data());
        const float sv = avx512::quantize_row_int8(x.data(), K, kpad, u8, qv.data());
        const bool same = std::memcmp(&ss, &sv, 4) == 0 && qs == qv;
        bad += !same;
        CHECK_MSG(same, "int8 quantize K=%lld variant %d u8 %d: scale %g vs %g", (long long)K, variant, int(u8), ss,
                  sv);
      }
      std::vector<float> xb = x;
      if (variant == 1) {
        for (int64_t k = 1; k < K; k += 2) xb[size_t(k)] = specials[size_t(k / 2) % 15];
      }
      std::vector<uint16_t> bs(size_t(kpad), 1), bv(size_t(kpad), 2);
      scalar::round_row_bf16(xb.data(), K, kpad, bs.data());
      avx512::round_row_bf16(xb.data(), K, kpad, bv.data());
      bad += bs != bv;
      CHECK_MSG(bs == bv, "bf16 round K=%lld variant %d differs", (long long)K, variant);
      rows += 3;
    }
  }
  std::printf("  %d rows converted, %d differ from the scalar functions\n", rows, bad);
#else
  std::printf("  skipped: avx512 not compiled in (not x86-64)\n");
#endif
}

// A row with a NaN or an infinity gives a NaN output row; the other rows are untouched (int8).
TEST(lowp_int8_nonfinite_rows) {
  std::mt19937 rng(3);
  const int64_t M = 3, N = 40, K = 20;
  const std::vector<float> W = random_vec(rng, size_t(N * K));
  std::vector<float> x = random_vec(rng, size_t(M * K)), clean = x;
  x[size_t(K + 5)] = NAN;
  x[size_t(2 * K)] = INFINITY;
  PackedLinearPtr w = linear_create(W.data(), nullptr, N, K, LinearDtype::int8);
  for (int i = 0; i < kIsaCount && w; ++i) {
    if (!isa_supported(Isa(i))) continue;
    std::vector<float> y(size_t(M * N)), yc(size_t(M * N));
    linear_forward(*w, x.data(), M, K, y.data(), N, Epilogue{}, Isa(i), pool(1));
    linear_forward(*w, clean.data(), M, K, yc.data(), N, Epilogue{}, Isa(i), pool(1));
    bool ok = std::memcmp(y.data(), yc.data(), size_t(N) * 4) == 0;
    for (int64_t j = N; j < M * N; ++j) ok = ok && std::isnan(y[size_t(j)]);
    CHECK_MSG(ok, "%s int8 non-finite rows", isa_name(Isa(i)));
  }
}

// The scalar oracles against float64: int8 within the quantization bound, bf16 within the rounding bound.
// int8: x = s_x q_x + e_x, |e_x| <= s_x / 2; W likewise with s_n. |x.w - s_x s_n q_x.q_w| <=
// (s_n / 2) sum|x| + (s_x / 2) sum(|w| + s_n / 2), plus the fp32 rescale (conversion and two products: 3 u).
// bf16: each operand rounds by at most 2^-8 relative: (2^-7 + 2^-16) sum|x w|, plus fp32 accumulation (K + 2) u.
TEST(lowp_oracles_vs_float64) {
  std::mt19937 rng(5);
  const int64_t shapes[][3] = {{3, 17, 1}, {5, 33, 67}, {4, 64, 768}, {2, 20, 3072}};
  for (const auto& s : shapes) {
    const int64_t M = s[0], N = s[1], K = s[2];
    const std::vector<float> W = random_vec(rng, size_t(N * K)), x = random_vec(rng, size_t(M * K), -3.0f, 3.0f);
    for (int variant = 0; variant < 5; ++variant) {  // int8, then bf16 in each Bf16Order
      const LinearDtype dtype = variant == 0 ? LinearDtype::int8 : LinearDtype::bf16;
      PackedLinearPtr w = linear_create(W.data(), nullptr, N, K, dtype);
      if (!w) {
        CHECK(false);
        continue;
      }
      std::vector<float> y(size_t(M * N));
      linear_forward_lowp(*w, x.data(), M, K, y.data(), N, Epilogue{}, oracle(Bf16Order(variant > 0 ? variant - 1 : 0)),
                          pool(1));
      double worst = 0.0;
      for (int64_t i = 0; i < M; ++i) {
        double ax = 0.0, mx = 0.0;
        for (int64_t k = 0; k < K; ++k)
          ax += std::fabs(x[size_t(i * K + k)]), mx = std::fmax(mx, std::fabs(x[size_t(i * K + k)]));
        const double sx = mx / 127.0;
        for (int64_t n = 0; n < N; ++n) {
          double exact = 0.0, aw = 0.0, axw = 0.0, mw = 0.0;
          for (int64_t k = 0; k < K; ++k) {
            const double a = x[size_t(i * K + k)], b = W[size_t(n * K + k)];
            exact += a * b, aw += std::fabs(b), axw += std::fabs(a * b), mw = std::fmax(mw, std::fabs(b));
          }
          const double sn = mw / 127.0;
          const double got = y[size_t(i * N + n)];
          const double tol = dtype == LinearDtype::int8
                                 ? sn / 2 * ax + sx / 2 * (aw + K * sn / 2) + 4 * kU * std::fabs(got) + 1e-30
                                 : (1.0 / 128 + 1.0 / (1 << 16) + (K + 2) * kU) * axw + 1e-30;
          worst = std::fmax(worst, std::fabs(got - exact) / tol);
          CHECK_MSG(std::fabs(got - exact) <= tol,
                    "%s oracle M=%lld N=%lld K=%lld [%lld,%lld]: %.9g vs %.9g (tol %.3g)",
                    dtype == LinearDtype::int8 ? "int8" : "bf16", (long long)M, (long long)N, (long long)K,
                    (long long)i, (long long)n, got, exact, tol);
        }
      }
      std::printf("  %s oracle K=%lld: max error %.2f of the bound\n",
                  variant == 0 ? "int8" : order_name(Bf16Order(variant - 1)), (long long)K, worst);
    }
  }
}

TEST(lowp_create_contract) {
  std::mt19937 rng(9);
  const int64_t N = 21, K = 100;
  const std::vector<float> W = random_vec(rng, size_t(N * K));
  PackedLinearPtr f = linear_create(W.data(), nullptr, N, K);
  PackedLinearPtr q = linear_create(W.data(), nullptr, N, K, LinearDtype::int8);
  PackedLinearPtr h = linear_create(W.data(), nullptr, N, K, LinearDtype::bf16);
  CHECK(f && q && h && linear_dtype(*f) == LinearDtype::f32);
  if (!f || !q || !h) return;
  CHECK(linear_weight_bytes(*q) < linear_weight_bytes(*h) && linear_weight_bytes(*h) < linear_weight_bytes(*f));
  // Rows read back are the weights the layer multiplies with: q * s_n (int8), the bf16 values.
  std::vector<float> rq(size_t(N * K)), rh(size_t(N * K));
  linear_copy_rows(*q, 0, N, rq.data());
  linear_copy_rows(*h, 0, N, rh.data());
  for (int64_t n = 0; n < N; ++n) {
    float mx = 0.0f;
    for (int64_t k = 0; k < K; ++k) mx = std::fmax(mx, std::fabs(W[size_t(n * K + k)]));
    for (int64_t k = 0; k < K; ++k) {
      const size_t at = size_t(n * K + k);
      CHECK(std::fabs(rq[at] - W[at]) <= mx / 127.0f * 0.5001f);
      const uint16_t b = scalar::bf16_round(W[at]);
      uint32_t bits;
      std::memcpy(&bits, &rh[at], 4);
      CHECK(bits == uint32_t(b) << 16);
    }
  }
  CHECK(!linear_create(W.data(), nullptr, N, K, LinearDtype(3)));
  std::vector<float> wide(size_t(65537));
  CHECK(!linear_create(wide.data(), nullptr, 1, 65537, LinearDtype::int8));  // int32 sums could overflow
  CHECK(linear_create(wide.data(), nullptr, 1, 65536, LinearDtype::int8) != nullptr);
}
