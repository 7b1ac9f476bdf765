// What the native FFF loops (fff_one_token.cpp, fff_stream.cpp) share: the weight type named on the command
// line, and a random FFF layer (K = 1, I = O = width, N(0, 0.05) weights drawn from rng in one fixed order).
#pragma once
#include <cstring>
#include <random>
#include <vector>

#include "fffbert/fff.h"

namespace fffbench {

// "bf16", "bf16-dot", else f32.
inline fffbert::FffWeights weights_named(const char* name) {
  if (std::strcmp(name, "bf16") == 0) return fffbert::FffWeights::bf16;
  if (std::strcmp(name, "bf16-dot") == 0) return fffbert::FffWeights::bf16_dot;
  return fffbert::FffWeights::f32;
}

// Null when fff_create refuses the shape.
inline fffbert::FffLayerPtr random_layer(int64_t width, int64_t depth, fffbert::FffWeights weights,
                                         std::mt19937& rng) {
  const int64_t nodes = (int64_t(1) << (depth + 1)) - 1;
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> w_in(size_t(nodes * width)), w_out(size_t(nodes * width));
  std::vector<float> b_in(static_cast<size_t>(nodes));
  for (float& v : w_in) v = normal(rng);
  for (float& v : b_in) v = normal(rng);
  for (float& v : w_out) v = normal(rng);
  fffbert::FffShape shape;
  shape.input_width = width;
  shape.output_width = width;
  shape.depth = depth;
  shape.trees = 1;
  return fffbert::fff_create(shape, w_in.data(), b_in.data(), w_out.data(), weights);
}

}  // namespace fffbench
