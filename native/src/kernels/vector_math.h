// The constants of the SIMD exp, erf (GELU) and tanh in kernels/{avx2,avx512,neon}/dense.cpp: one copy for
// every instruction set, so the kernels cannot drift apart (the scalar oracle calls std::exp and std::erf).
// Polynomials are in Horner order, highest degree first.
#pragma once

namespace fffbert::vmath {

// e^x = 2^n e^r, n = round(x log2 e), r = x - n ln2 in two steps; e^r = 1 + r + r^2 P(r), degree-6 Cephes expf
// (max relative error ~2 ulp). x is clamped first: no infinities, no denormals.
constexpr float kExpMin = -87.3365f, kExpMax = 88.7228f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kExpP[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                            4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

// GELU_erf(x) = x/2 (1 + erf(x / sqrt 2)); erf(z) = z P(z^2) / Q(z^2) on |z| <= kErfClamp (erf rounds to +-1
// beyond), a [6/5] rational fitted for minimax relative error (1.8e-9 in exact arithmetic).
constexpr float kRsqrt2 = 0.70710678118654752f;
constexpr float kErfClamp = 3.925f;
constexpr float kErfP[7] = {-1.282940953e-08f, 4.614722457e-06f, 3.769664036e-04f, 3.839499084e-03f,
                            5.424953252e-02f,  1.851423532e-01f, 1.128379226e+00f};
constexpr float kErfQ[6] = {6.245069380e-05f, 1.301979530e-03f, 1.543253940e-02f,
                            1.138807610e-01f, 4.974115491e-01f, 1.0f};

}  // namespace fffbert::vmath
