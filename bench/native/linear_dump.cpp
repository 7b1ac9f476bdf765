// One dense Linear y = x W^T + b in fp32, int8 and bf16 (dense.h LinearDtype) on this CPU's best instruction set,
// for checks outside the library (scripts/ort-int8-check.py compares the int8 output with ONNX Runtime's
// quantize_dynamic). Files are raw little-endian float32, row-major: x [M, K], W [N, K], b [N] ("-" for none);
// writes PREFIX.fp32.f32, PREFIX.int8.f32, PREFIX.bf16.f32 ([M, N] each) and prints the kernels used.
//   bash scripts/test-native.sh   # builds build/native-tests/libfffbert_core.a
//   g++ -O2 -std=c++17 -Inative/include -Inative/src bench/native/linear_dump.cpp
//       build/native-tests/libfffbert_core.a -lpthread -o build/linear_dump
//   build/linear_dump M N K x.f32 w.f32 b.f32|- PREFIX [threads=2]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fffbert/dense.h"
#include "fffbert/pool.h"

using namespace fffbert;

namespace {

bool read_floats(const char* path, std::vector<float>& v) {
  FILE* f = std::fopen(path, "rb");
  if (!f) return false;
  const size_t got = std::fread(v.data(), sizeof(float), v.size(), f);
  const bool at_end = std::fgetc(f) == EOF;
  std::fclose(f);
  return got == v.size() && at_end;
}

bool write_floats(const std::string& path, const std::vector<float>& v) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(v.data(), sizeof(float), v.size(), f) == v.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 8) {
    std::fprintf(stderr, "usage: %s M N K x.f32 w.f32 b.f32|- PREFIX [threads]\n", argv[0]);
    return 2;
  }
  const long long M = std::atoll(argv[1]), N = std::atoll(argv[2]), K = std::atoll(argv[3]);
  const int threads = argc > 8 ? std::atoi(argv[8]) : 2;
  if (M <= 0 || N <= 0 || K <= 0 || M * K > (1LL << 28) || N * K > (1LL << 28) || M * N > (1LL << 28) ||
      threads <= 0) {
    std::fprintf(stderr, "M, N, K must be positive (each matrix below 2^28 elements), threads positive\n");
    return 2;
  }
  std::vector<float> x(static_cast<size_t>(M * K)), W(static_cast<size_t>(N * K)), b(static_cast<size_t>(N));
  const bool has_bias = std::string(argv[6]) != "-";
  if (!read_floats(argv[4], x) || !read_floats(argv[5], W) || (has_bias && !read_floats(argv[6], b))) {
    std::fprintf(stderr, "cannot read x [%lld, %lld], W [%lld, %lld]%s as raw float32 of exactly that size\n", M, K,
                 N, K, has_bias ? " and b" : "");
    return 1;
  }
  auto pool = make_pool(threads);
  const Isa isa = isa_best();
  const struct {
    LinearDtype dtype;
    const char* name;
  } dtypes[] = {{LinearDtype::f32, "fp32"}, {LinearDtype::int8, "int8"}, {LinearDtype::bf16, "bf16"}};
  for (const auto& d : dtypes) {
    PackedLinearPtr w = linear_create(W.data(), has_bias ? b.data() : nullptr, N, K, d.dtype);
    if (!w) {
      std::fprintf(stderr, "linear_create failed for %s\n", d.name);
      return 1;
    }
    std::vector<float> y(static_cast<size_t>(M * N));
    linear_forward(*w, x.data(), M, K, y.data(), N, Epilogue{}, isa, *pool);
    const std::string path = std::string(argv[7]) + "." + d.name + ".f32";
    if (!write_floats(path, y)) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
    std::printf("%s: %s\n", d.name, linear_kernel_name(d.dtype, isa));
  }
  return 0;
}
