// Same-process A/B of the whole encoder in fp32, int8 and bf16 (BertConfig::dense_dtype) at the
// UltraFastBERT-1x11-long shape (crammed, 16 layers, hidden 768, 12 heads, FFF K=1 D=11, vocab 32768, random
// weights, the same in every model), without Node: rounds alternate the dtypes; prints the median ms per forward
// and the speed-up over fp32 at 1x16 and 8x128 tokens, with the int8 / bf16 kernels this CPU runs.
//   bash scripts/test-native.sh   # builds build/native-tests/libfffbert_core.a
//   g++ -O2 -std=c++17 -Inative/include -Inative/src bench/native/encoder_dtype.cpp
//       build/native-tests/libfffbert_core.a -lpthread -o build/encoder_dtype
//   flock /tmp/bench.lock build/encoder_dtype [threads=2] [rounds=5] [layers=16]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fffbert/bert.h"
#include "fffbert/dense.h"
#include "fffbert/pool.h"

using namespace fffbert;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const int layers = argc > 3 ? std::atoi(argv[3]) : 16;
  if (threads <= 0 || rounds <= 0 || layers <= 0) {
    std::fprintf(stderr, "usage: %s [threads=2] [rounds=5] [layers=16]\n", argv[0]);
    return 2;
  }
  BertConfig c;
  c.family = BertFamily::crammed;
  c.hidden = 768, c.layers = layers, c.heads = 12, c.head_dim = 64, c.vocab = 32768, c.max_positions = 128;
  c.ffn = BertFfn::fff, c.fff_depth = 11, c.fff_trees = 1;
  const LinearDtype dtypes[] = {LinearDtype::f32, LinearDtype::int8, LinearDtype::bf16};
  const char* names[] = {"fp32", "int8", "bf16"};
  std::unique_ptr<BertModel> models[3];
  for (int d = 0; d < 3; ++d) {
    c.dense_dtype = dtypes[d];
    BertStatus st;
    models[d] = BertModel::create(c, &st);
    if (!models[d]) {
      std::fprintf(stderr, "create: %s\n", st.message.c_str());
      return 1;
    }
  }
  // Every tensor drawn once and given to the three models; norm weights near 1, the scale factor 1.
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (const auto& nr : models[0]->tensor_names()) {
    const std::string& name = nr.first;
    if (!nr.second) continue;  // optional tensors (an untied decoder) left out
    std::vector<int64_t> shape;
    models[0]->tensor_shape(name, &shape);
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    const bool norm_w = name.find("norm") != std::string::npos && name.find("weight") != std::string::npos;
    const float scale = name == "embeddings.scale_factor" ? 0.0f : norm_w ? 0.1f : shape.size() == 2 ? 0.05f : 0.02f;
    const float base = name == "embeddings.scale_factor" || norm_w ? 1.0f : 0.0f;
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = base + scale * nd(rng);
    for (auto& m : models) {
      const BertStatus st = m->set_tensor(name, v.data(), shape);
      if (!st.ok()) {
        std::fprintf(stderr, "set_tensor %s: %s\n", name.c_str(), st.message.c_str());
        return 1;
      }
    }
  }
  for (auto& m : models) {
    const BertStatus st = m->finalize();
    if (!st.ok()) {
      std::fprintf(stderr, "finalize: %s\n", st.message.c_str());
      return 1;
    }
  }
  const Isa isa = isa_best();
  auto pool = make_pool(threads);
  std::printf("isa %s, int8 %s, bf16 %s, %d threads, %d layers, %d rounds, median ms per forward\n", isa_name(isa),
              linear_kernel_name(LinearDtype::int8, isa), linear_kernel_name(LinearDtype::bf16, isa), threads, layers,
              rounds);
  const int64_t shapes[][2] = {{1, 16}, {8, 128}};
  for (const auto& bs : shapes) {
    const int64_t B = bs[0], S = bs[1];
    std::vector<int32_t> ids(static_cast<size_t>(B * S)), mask(static_cast<size_t>(B * S), 1);
    for (int32_t& id : ids) id = int32_t(rng() % 32768u);
    std::vector<float> hidden(static_cast<size_t>(B * S * c.hidden));
    BertInputs in;
    in.input_ids = ids.data(), in.attention_mask = mask.data(), in.batch = B, in.seq = S;
    BertOutputs out;
    out.hidden = hidden.data();
    std::vector<double> t[3];
    for (int r = 0; r < rounds + 1; ++r) {  // round 0 warms up
      for (int d = 0; d < 3; ++d) {
        const auto t0 = std::chrono::steady_clock::now();
        models[d]->forward(in, out, isa, *pool);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (r > 0) t[d].push_back(ms);
      }
    }
    std::printf("%lldx%lld:", (long long)B, (long long)S);
    double fp32 = 0;
    for (int d = 0; d < 3; ++d) {
      std::sort(t[d].begin(), t[d].end());
      const double med = t[d][t[d].size() / 2];
      if (d == 0) fp32 = med;
      std::printf("  %s %.2f ms (%.0f tok/s, %.2fx)", names[d], med, double(B * S) / med * 1e3, fp32 / med);
    }
    std::printf("\n");
  }
  return 0;
}
