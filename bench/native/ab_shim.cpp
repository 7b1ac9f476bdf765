// One side of bench/native/ab_fff.cpp: compiled against one build of the core (scripts/ab-native.sh links it with
// that build's libfffbert_core.a into a shared object of its own), it exposes that build's FFF layer through a
// C interface, so two builds can run in one process, round by round.
#include <cstdint>
#include <memory>
#include <random>

#include "fffbert/fff.h"
#include "fffbert/isa.h"
#include "fffbert/pool.h"
#include "fff_random_layer.h"

namespace {

struct AbLayer {
  fffbert::FffLayerPtr layer;
  std::unique_ptr<fffbert::ThreadPool> pool;
  fffbert::Isa isa = fffbert::Isa::scalar;
  int64_t width = 0;
};

}  // namespace

extern "C" {

// A random 1-tree layer (fff_random_layer.h, from `seed`) of `weights` ("f32", "bf16", "bf16-dot") on a pool of
// `threads`, at the ISA FFFBERT_ISA names, else the best; null where fff_create refuses it.
__attribute__((visibility("default"))) void* ab_create(const char* weights, int64_t width, int64_t depth,
                                                       uint32_t seed, int threads) {
  std::mt19937 rng(seed);
  auto l = std::make_unique<AbLayer>();
  l->layer = fffbench::random_layer(width, depth, fffbench::weights_named(weights), rng);
  if (!l->layer) return nullptr;
  l->pool = fffbert::make_pool(threads);
  l->isa = fffbert::isa_active();
  l->width = width;
  return l.release();
}

// fff_forward of `tokens` rows of x into y; strategy 0 auto, 1 per-token, 2 batched.
__attribute__((visibility("default"))) void ab_forward(void* p, const float* x, int64_t tokens, float* y,
                                                       int strategy) {
  auto* l = static_cast<AbLayer*>(p);
  const fffbert::FffStrategy s = strategy == 1   ? fffbert::FffStrategy::per_token
                                 : strategy == 2 ? fffbert::FffStrategy::batched
                                                 : fffbert::FffStrategy::automatic;
  fffbert::fff_forward(*l->layer, x, tokens, l->width, y, l->width, nullptr, s, l->isa, *l->pool);
}

__attribute__((visibility("default"))) void ab_destroy(void* p) { delete static_cast<AbLayer*>(p); }

}  // extern "C"
