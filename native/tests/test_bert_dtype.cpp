// BertConfig::dense_dtype: small random crammed (FFF, MLM, tied decoder) and HF (dense feedforward, untied MLM
// decoder; pooler + classifier) models in int8 and bf16 against the same weights in fp32, on every ISA.
// The accuracy asserted is the target for embeddings (cosine >= 0.999 of every token's hidden state
// against fp32), and the weights really are held in the dtype (bytes).
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fffbert/bert.h"
#include "test.h"

using namespace fffbert;

namespace {

// Every tensor the configuration takes, random; norm weights near 1 (a trained model's LayerNorm scale).
std::unique_ptr<BertModel> build(BertConfig c, LinearDtype dtype, uint32_t seed, bool with_decoder) {
  c.dense_dtype = dtype;
  BertStatus st;
  std::unique_ptr<BertModel> m = BertModel::create(c, &st);
  CHECK_MSG(m != nullptr, "create: %s", st.message.c_str());
  if (!m) return nullptr;
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (const auto& nr : m->tensor_names()) {
    const std::string& name = nr.first;
    if (name == "mlm.decoder.weight" && !with_decoder) continue;
    std::vector<int64_t> shape;
    m->tensor_shape(name, &shape);
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    const bool norm_w = name.find("norm") != std::string::npos && name.find("weight") != std::string::npos;
    const float scale = name == "embeddings.scale_factor" ? 1.0f : norm_w ? 0.1f : shape.size() == 2 ? 0.08f : 0.02f;
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = (norm_w ? 1.0f : 0.0f) + scale * d(rng);
    // FFF routing logits kept >= 2 away from 0 (their spread is ~0.6): a route that flips under a 1e-3
    // perturbation would measure routing luck, not the dense layers' error.
    if (name.find("linear_in.bias") != std::string::npos) {
      for (float& x : v) x = x < 0 ? -2.0f + x : 2.0f + x;
    }
    st = m->set_tensor(name, v.data(), shape);
    CHECK_MSG(st.ok(), "set_tensor %s: %s", name.c_str(), st.message.c_str());
  }
  st = m->finalize();
  CHECK_MSG(st.ok(), "finalize: %s", st.message.c_str());
  return st.ok() ? std::move(m) : nullptr;
}

double min_row_cosine(const std::vector<float>& a, const std::vector<float>& b, int64_t width) {
  double worst = 1.0;
  for (size_t r = 0; r * size_t(width) < a.size(); ++r) {
    double ab = 0, aa = 0, bb = 0;
    for (int64_t j = 0; j < width; ++j) {
      const double x = a[r * size_t(width) + size_t(j)], y = b[r * size_t(width) + size_t(j)];
      ab += x * y, aa += x * x, bb += y * y;
    }
    worst = std::fmin(worst, ab / std::sqrt(aa * bb));  // NaN propagates into the check
  }
  return worst;
}

void check_model(const char* what, const BertConfig& c, bool with_decoder) {
  const int64_t B = 2, S = 9, H = c.hidden;
  std::vector<int32_t> ids(size_t(B * S)), mask(size_t(B * S), 1);
  std::mt19937 rng(17);
  for (int32_t& id : ids) id = int32_t(rng() % uint32_t(c.vocab));
  mask[size_t(B * S - 1)] = 0;
  BertInputs in;
  in.input_ids = ids.data(), in.attention_mask = mask.data(), in.batch = B, in.seq = S;
  std::unique_ptr<BertModel> f32 = build(c, LinearDtype::f32, 5, with_decoder);
  if (!f32) return;
  for (LinearDtype dtype : {LinearDtype::int8, LinearDtype::bf16}) {
    std::unique_ptr<BertModel> q = build(c, dtype, 5, with_decoder);
    if (!q) continue;
    const char* dname = dtype == LinearDtype::int8 ? "int8" : "bf16";
    CHECK_MSG(q->weight_bytes() < f32->weight_bytes(), "%s %s weight bytes %lld vs fp32 %lld", what, dname,
              (long long)q->weight_bytes(), (long long)f32->weight_bytes());
    for (int i = 0; i < kIsaCount; ++i) {
      if (!isa_supported(Isa(i))) continue;
      const int64_t L = q->logits_width(), rows = c.head == BertHead::mlm ? B * S : B;
      std::vector<float> h0(size_t(B * S * H)), h1 = h0, l0(size_t(rows * L)), l1 = l0;
      BertOutputs o0, o1;
      o0.hidden = h0.data(), o1.hidden = h1.data();
      if (L > 0) o0.logits = l0.data(), o1.logits = l1.data();
      f32->forward(in, o0, Isa(i), fffbert_test::pool(2));
      q->forward(in, o1, Isa(i), fffbert_test::pool(2));
      const double ch = min_row_cosine(h0, h1, H), cl = L > 0 ? min_row_cosine(l0, l1, L) : 1.0;
      std::printf("  %s %s %s: min token cosine vs fp32: hidden %.6f, logits %.6f\n", what, dname, isa_name(Isa(i)), ch,
                  cl);
      CHECK_MSG(ch >= 0.999 && cl >= 0.999, "%s %s %s: cosine hidden %.6f logits %.6f < 0.999", what, dname,
                isa_name(Isa(i)), ch, cl);
    }
  }
}

}  // namespace

TEST(bert_dense_dtype_crammed_fff_mlm) {
  BertConfig c;
  c.family = BertFamily::crammed;
  c.hidden = 64, c.layers = 2, c.heads = 4, c.head_dim = 16, c.vocab = 97, c.max_positions = 32;
  c.ffn = BertFfn::fff, c.fff_depth = 3, c.fff_trees = 2;
  c.head = BertHead::mlm;
  check_model("crammed fff mlm (tied)", c, false);
}

TEST(bert_dense_dtype_hf_dense_heads) {
  BertConfig c;
  c.family = BertFamily::hf;
  c.hidden = 64, c.layers = 2, c.heads = 4, c.head_dim = 16, c.vocab = 97, c.max_positions = 32, c.type_vocab = 2;
  c.ffn = BertFfn::dense, c.intermediate = 200;
  c.head = BertHead::mlm;
  check_model("hf dense mlm (untied)", c, true);
  c.head = BertHead::classification, c.num_labels = 3, c.hf_pooler = true;
  check_model("hf dense classification", c, false);
}

TEST(bert_dense_dtype_invalid) {
  BertConfig c;
  c.family = BertFamily::crammed;
  c.hidden = 64, c.layers = 1, c.heads = 4, c.head_dim = 16, c.vocab = 10, c.max_positions = 8;
  c.ffn = BertFfn::fff, c.fff_depth = 1, c.fff_trees = 1;
  c.dense_dtype = LinearDtype(7);
  BertStatus st;
  CHECK(!BertModel::create(c, &st) && st.code == BertErrc::invalid_model &&
        st.message.find("dense dtype") != std::string::npos);
}
