// Instruction-set selection: one fallback rule for every driver (isa_runnable), and FFFBERT_ISA read once.
#include <cstdint>
#include <cstring>
#include <vector>

#include "fffbert/dense.h"
#include "fffbert/fff.h"
#include "fffbert/isa.h"
#include "test.h"

using namespace fffbert;

namespace {

// A set this binary or CPU cannot run (neon on x86, avx2 on arm64), or -1 when every set runs here.
int unsupported_isa() {
  for (int i = 0; i < kIsaCount; ++i) {
    if (!isa_supported(Isa(i))) return i;
  }
  return -1;
}

std::vector<float> seeded(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = float(int32_t(seed >> 8) - (1 << 23)) / float(1 << 23);  // [-1, 1)
  }
  return v;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST(isa_runnable_is_the_set_itself_or_scalar) {
  for (int i = 0; i < kIsaCount; ++i) {
    const Isa isa = Isa(i);
    CHECK_MSG(isa_runnable(isa) == (isa_supported(isa) ? isa : Isa::scalar), "%s", isa_name(isa));
  }
  CHECK(isa_runnable(Isa::scalar) == Isa::scalar);
  CHECK(isa_supported(isa_runnable(isa_best())));
}

TEST(isa_apply_env_answers_the_same_every_time) {
  const bool first = isa_apply_env();
  for (int rep = 0; rep < 3; ++rep) CHECK(isa_apply_env() == first);
  CHECK(isa_supported(isa_active()));
}

// The FFF and the dense drivers take the same fallback: an unsupported set computes bitwise what scalar computes.
TEST(isa_unsupported_set_runs_scalar_in_every_driver) {
  const int bad = unsupported_isa();
  if (bad < 0) {
    std::printf("     skipped: every instruction set runs here, none to fall back from\n");
    return;
  }
  auto pool = make_pool(2);
  const Isa isa = Isa(bad);

  const FffShape shape{37, 19, 3, 2};
  const int64_t rows = 9, nodes = shape.trees * shape.nodes_per_tree();
  const auto w_in = seeded(size_t(nodes * shape.input_width), 1), b_in = seeded(size_t(nodes), 2);
  const auto w_out = seeded(size_t(shape.output_width * nodes), 3), x = seeded(size_t(rows * shape.input_width), 4);
  auto layer = fff_create(shape, w_in.data(), b_in.data(), w_out.data());
  CHECK(layer != nullptr);
  if (!layer) return;
  std::vector<float> y_bad(size_t(rows * shape.output_width)), y_scalar(y_bad.size());
  std::vector<int32_t> p_bad(size_t(rows * shape.trees * (shape.depth + 1))), p_scalar(p_bad.size());
  fff_forward(*layer, x.data(), rows, shape.input_width, y_bad.data(), shape.output_width, p_bad.data(),
              FffStrategy::automatic, isa, *pool);
  fff_forward(*layer, x.data(), rows, shape.input_width, y_scalar.data(), shape.output_width, p_scalar.data(),
              FffStrategy::automatic, Isa::scalar, *pool);
  CHECK_MSG(bitwise_equal(y_bad, y_scalar), "fff_forward with %s differs from scalar", isa_name(isa));
  CHECK(p_bad == p_scalar);

  const int64_t N = 21, K = 37;
  const auto w = seeded(size_t(N * K), 5), bias = seeded(size_t(N), 6);
  auto lin = linear_create(w.data(), bias.data(), N, K);
  CHECK(lin != nullptr);
  if (!lin) return;
  Epilogue ep;
  ep.act = Activation::gelu_erf;
  std::vector<float> l_bad(size_t(rows * N)), l_scalar(l_bad.size());
  linear_forward(*lin, x.data(), rows, K, l_bad.data(), N, ep, isa, *pool);
  linear_forward(*lin, x.data(), rows, K, l_scalar.data(), N, ep, Isa::scalar, *pool);
  CHECK_MSG(bitwise_equal(l_bad, l_scalar), "linear_forward with %s differs from scalar", isa_name(isa));
}

// The cache sizes the FFF's output-store rule reads (fff_streams_output): on x86 CPUID gives an L2 and a last level
// at least as large; elsewhere they are unknown (0) and the rule never streams.
TEST(isa_cache_sizes) {
  const CacheSizes& c = cache_sizes();
#if defined(__x86_64__) || defined(_M_X64)
  CHECK_MSG(c.l2 >= (int64_t(64) << 10) && c.llc >= c.l2, "L2 %lld, last level %lld bytes", (long long)c.l2,
            (long long)c.llc);
#else
  CHECK(c.l2 == 0 && c.llc == 0);
#endif
  std::printf("     L2 %lld KB, last level %lld KB\n", (long long)(c.l2 >> 10), (long long)(c.llc >> 10));
}
