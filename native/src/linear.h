// PackedLinear's layout, shared by the f32 driver (gemm.cpp) and the int8 / bf16 one (lowp.cpp). Internal.
#pragma once
#include <cstdint>
#include <vector>

#include "fffbert/dense.h"
#include "gemm.h"
#include "kernels/lowp_kernels.h"

namespace fffbert {

struct PackedLinear {
  int64_t N = 0, K = 0;
  LinearDtype dtype = LinearDtype::f32;
  // f32: op(B) = W^T in panels (panel_stride = K * 16 floats); N x K PyTorch weight in, any ISA reads it.
  gemm::FloatBuffer panels;
  // int8: k4 panels (int8), bf16: k2 panels (uint16), layouts in kernels/lowp_kernels.h; raw bytes, 64-aligned.
  gemm::FloatBuffer lowp;
  int64_t kpad = 0;             // K rounded up to 4 (int8) or 2 (bf16)
  int64_t panel_bytes = 0;      // bytes from one low-precision panel to the next
  std::vector<float> scale;     // int8: s_n per output, zero-padded to a multiple of 32 columns
  std::vector<int32_t> colsum;  // int8: sum_k q[n, k], padded likewise
  std::vector<float> bias;      // empty when the layer has none
};

// The int8 / bf16 halves of linear_create / linear_forward / linear_copy_rows (lowp.cpp).
bool linear_pack_lowp(PackedLinear& w, const float* weight);
void linear_copy_rows_lowp(const PackedLinear& w, int64_t n0, int64_t rows, float* out);
// linear_forward of an int8 / bf16 layer with the kernels of `variant` (tests run every variant; the drivers
// pass int8_kernels_for / bf16_kernels_for of their isa). res must be null, y itself (ldr == ldy) or disjoint.
void linear_forward_lowp(const PackedLinear& w, const float* x, int64_t M, int64_t ldx, float* y, int64_t ldy,
                         const Epilogue& ep, const LowpVariant& variant, ThreadPool& pool);

// Per-row conversions of the activations and weights, identical for every kernel (kernels/scalar/lowp.cpp,
// compiled without FMA contraction). quantize: q = round_half_even(x * (127 / amax)) clamped to [-127, 127],
// written as int8 (u8: q + 128), padding [K, kpad) as q = 0; returns s = amax / 127 (0 for an all-zero row,
// NaN with all q = 0 when the row holds a NaN or infinity).
namespace scalar {
float quantize_row_int8(const float* x, int64_t K, int64_t kpad, bool u8, uint8_t* q);
// bf16 bits of x, rounded to nearest even, subnormals flushed to (signed) zero, NaN kept quiet.
uint16_t bf16_round(float x);
void round_row_bf16(const float* x, int64_t K, int64_t kpad, uint16_t* out);
}  // namespace scalar

}  // namespace fffbert
