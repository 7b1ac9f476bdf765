// BertModel: configuration checks, the table of named tensors, packing, input validation.
// The forward pass is in bert_forward.cpp.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <sstream>

#include "bert_internal.h"

namespace fffbert {
namespace {

constexpr int64_t kMaxWidth = int64_t(1) << 24;
constexpr int64_t kMaxElements = int64_t(1) << 40;

BertStatus status(BertErrc code, std::string message) { return BertStatus{code, std::move(message)}; }

std::string check_config(const BertConfig& c) {
  auto in = [](int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; };
  if (c.family != BertFamily::crammed && c.family != BertFamily::hf) return "family must be crammed or hf";
  if (!in(c.hidden, 1, kMaxWidth)) return "hidden size must be in [1, 2^24]";
  if (!in(c.layers, 1, 4096)) return "layers must be in [1, 4096]";
  if (!in(c.heads, 1, c.hidden) || !in(c.head_dim, 1, c.hidden) || c.heads * c.head_dim != c.hidden) {
    return "heads (" + std::to_string(c.heads) + ") x head dim (" + std::to_string(c.head_dim) +
           ") must equal the hidden size (" + std::to_string(c.hidden) + ")";
  }
  if (c.dense_dtype != LinearDtype::f32 && c.dense_dtype != LinearDtype::int8 && c.dense_dtype != LinearDtype::bf16) {
    return "dense dtype must be f32, int8 or bf16";
  }
  if (c.dense_dtype == LinearDtype::int8 && (c.hidden > 65536 || (c.ffn == BertFfn::dense && c.intermediate > 65536))) {
    return "int8 dense layers need widths <= 65536";
  }
  if (!in(c.vocab, 1, kMaxElements / c.hidden)) return "vocab size must be >= 1 (and vocab x hidden < 2^40)";
  if (!in(c.max_positions, 1, kMaxWidth)) return "max positions must be in [1, 2^24]";
  if (!(c.norm_eps > 0) || !std::isfinite(c.norm_eps)) return "norm eps must be a positive finite number";
  if (c.family == BertFamily::hf && !in(c.type_vocab, 1, kMaxWidth)) return "hf models need a type vocab >= 1";
  if (c.family == BertFamily::crammed && c.type_vocab != 0) return "crammed models have no token types (type vocab 0)";
  if (c.ffn == BertFfn::fff) {
    if (c.family != BertFamily::crammed) return "an FFF feedforward is supported for the crammed family only";
    if (!in(c.fff_depth, 0, kFffMaxDepth)) return "FFF depth must be in [0, " + std::to_string(kFffMaxDepth) + "]";
    if (!in(c.fff_trees, 1, 1 << 16)) return "FFF trees must be in [1, 65536]";
    if (((int64_t(2) << c.fff_depth) - 1) * c.fff_trees > kMaxElements / c.hidden) return "the FFF is too large";
  } else if (c.ffn == BertFfn::dense) {
    if (!in(c.intermediate, 1, kMaxWidth)) return "intermediate size must be in [1, 2^24]";
  } else {
    return "ffn must be fff or dense";
  }
  if (c.head == BertHead::classification) {
    if (!in(c.num_labels, 1, kMaxWidth)) return "a classification head needs num labels >= 1";
    if (c.family == BertFamily::crammed) {
      if (!in(c.crammed_head_dim, 1, kMaxWidth)) return "the crammed pooler's head dim must be in [1, 2^24]";
      if (c.crammed_pooler != CrammedPooler::avg && c.crammed_pooler != CrammedPooler::zero_index) {
        return "the crammed pooler must be avg or zero_index";
      }
    } else if (!c.hf_pooler) {
      return "an hf classification head needs the pooler";
    }
  } else if (c.head != BertHead::none && c.head != BertHead::mlm) {
    return "head must be none, mlm or classification";
  }
  return "";
}

// Plain tensors keep their data; packed ones are grouped. Declares every tensor of the configuration.
class Declarer {
 public:
  explicit Declarer(BertModel::Impl& m) : m_(m) {}
  void plain(const std::string& name, std::vector<int64_t> shape, bool required = true) {
    BertSlot& s = m_.slots[name];
    s.shape = std::move(shape);
    s.required = required;
  }
  // Members (name, shape, required) packed together by `pack` once all of them (or, at finalize, all required
  // ones) are present.
  void group(const std::vector<std::pair<std::string, std::vector<int64_t>>>& members, std::function<BertStatus()> pack,
             const std::vector<bool>& required = {}) {
    BertGroup g;
    for (size_t i = 0; i < members.size(); ++i) {
      plain(members[i].first, members[i].second, required.empty() || required[i]);
      m_.slots[members[i].first].group = int(m_.groups.size());
      g.members.push_back(members[i].first);
    }
    g.pack = std::move(pack);
    m_.groups.push_back(std::move(g));
  }

 private:
  BertModel::Impl& m_;
};

// A PackedLinear from two slots (bias may be absent), or an error naming the weight. In the model's dense dtype,
// except the word embedding and the MLM decoder (dtype f32; finalize converts the decoder).
BertStatus make_linear(const BertModel::Impl& m, const std::string& w, const std::string& b, int64_t n, int64_t k,
                       PackedLinearPtr* out, LinearDtype dtype) {
  *out = linear_create(m.data(w), b.empty() ? nullptr : m.data(b), n, k, dtype);
  if (!*out) return status(BertErrc::out_of_memory, "could not pack " + w);
  return {};
}

// True when the packed w holds exactly (bitwise) the [N, K] rows at data; compared 16 rows at a time, no copy
// of the whole table.
bool same_rows(const PackedLinear& w, const float* data) {
  const int64_t N = linear_out_features(w), K = linear_in_features(w), chunk = 16;
  std::vector<float> rows(size_t(chunk * K));
  for (int64_t n0 = 0; n0 < N; n0 += chunk) {
    const int64_t r = std::min(chunk, N - n0);
    linear_copy_rows(w, n0, r, rows.data());
    if (std::memcmp(rows.data(), data + n0 * K, size_t(r * K) * sizeof(float)) != 0) return false;
  }
  return true;
}

// MLM models hold the word embedding once, packed (Impl::word_packed), and it is the decoder unless the
// checkpoint's decoder weight differs from it (untied: both kept). Either may arrive first.
BertStatus pack_word(BertModel::Impl& m) {
  const float* w = m.data("embeddings.word.weight");
  if (m.mlm_decoder && same_rows(*m.mlm_decoder, w)) {  // the decoder came first and is tied
    m.word_packed = std::move(m.mlm_decoder);
    return {};
  }
  return make_linear(m, "embeddings.word.weight", "", m.cfg.vocab, m.cfg.hidden, &m.word_packed, LinearDtype::f32);
}

BertStatus pack_decoder(BertModel::Impl& m) {
  const float* d = m.data("mlm.decoder.weight");
  if (!d) return {};                                             // absent: tied to the word embedding
  if (m.word_packed && same_rows(*m.word_packed, d)) return {};  // tied: held once
  return make_linear(m, "mlm.decoder.weight", "", m.cfg.vocab, m.cfg.hidden, &m.mlm_decoder, LinearDtype::f32);
}

// Width of the pooler output (its one definition): H (hf with a pooler), crammed_head_dim (crammed
// classification), 0 when there is none.
int64_t pooler_width_of(const BertConfig& c) {
  if (c.family == BertFamily::hf) return c.hf_pooler ? c.hidden : 0;
  return c.head == BertHead::classification ? c.crammed_head_dim : 0;
}

// The one list of the core's tensor names and shapes for a configuration (bert.h); packing groups with them.
void declare(BertModel::Impl& m) {
  const BertConfig& c = m.cfg;
  const int64_t H = c.hidden;
  const bool hf = c.family == BertFamily::hf;
  Declarer d(m);
  if (c.head == BertHead::mlm) {
    d.group({{"embeddings.word.weight", {c.vocab, H}}}, [&m] { return pack_word(m); });
  } else {
    d.plain("embeddings.word.weight", {c.vocab, H});
  }
  d.plain("embeddings.norm.weight", {H});
  d.plain("embeddings.norm.bias", {H});
  if (hf) {
    d.plain("embeddings.position.weight", {c.max_positions, H});
    d.plain("embeddings.token_type.weight", {c.type_vocab, H});
  } else {
    d.plain("embeddings.scale_factor", {1});
  }
  m.layers.resize(size_t(c.layers));
  for (int64_t i = 0; i < c.layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    BertLayer* L = &m.layers[size_t(i)];
    for (const char* n : {"norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"}) d.plain(p + n, {H});
    if (hf) {
      const std::string q = p + "attn.query.", k = p + "attn.key.", v = p + "attn.value.";
      // Q|K|V blocks: rows [0,H) Q, [H,2H) K, [2H,3H) V of one [3H, H] weight and [3H] bias.
      d.group({{q + "weight", {H, H}},
               {q + "bias", {H}},
               {k + "weight", {H, H}},
               {k + "bias", {H}},
               {v + "weight", {H, H}},
               {v + "bias", {H}}},
              [&m, L, q, k, v, H] {
                std::vector<float> w(size_t(3 * H * H)), b(size_t(3 * H));
                const std::string parts[3] = {q, k, v};
                for (int j = 0; j < 3; ++j) {
                  std::copy_n(m.data(parts[j] + "weight"), H * H, w.begin() + j * H * H);
                  std::copy_n(m.data(parts[j] + "bias"), H, b.begin() + j * H);
                }
                L->qkv = linear_create(w.data(), b.data(), 3 * H, H, m.cfg.dense_dtype);
                return L->qkv ? BertStatus{} : status(BertErrc::out_of_memory, "could not pack " + q + "weight");
              });
      d.group({{p + "attn.out.weight", {H, H}}, {p + "attn.out.bias", {H}}}, [&m, L, p, H] {
        return make_linear(m, p + "attn.out.weight", p + "attn.out.bias", H, H, &L->attn_out, m.cfg.dense_dtype);
      });
    } else {
      d.group({{p + "attn.qkv.weight", {3 * H, H}}}, [&m, L, p, H] {
        return make_linear(m, p + "attn.qkv.weight", "", 3 * H, H, &L->qkv, m.cfg.dense_dtype);
      });
      d.group({{p + "attn.out.weight", {H, H}}}, [&m, L, p, H] {
        return make_linear(m, p + "attn.out.weight", "", H, H, &L->attn_out, m.cfg.dense_dtype);
      });
    }
    if (c.ffn == BertFfn::fff) {
      const FffShape s{H, H, c.fff_depth, c.fff_trees};
      const int64_t nodes = s.trees * s.nodes_per_tree();
      const std::string f = p + "ffn.";
      d.group({{f + "linear_in.weight", {nodes, H}},
               {f + "linear_in.bias", {nodes}},
               {f + "linear_out.weight", {H, nodes}}},
              [&m, L, f, s] {
                L->fff = fff_create(s, m.data(f + "linear_in.weight"), m.data(f + "linear_in.bias"),
                                    m.data(f + "linear_out.weight"),
                                    m.cfg.dense_dtype == LinearDtype::bf16 ? FffWeights::bf16 : FffWeights::f32);
                return L->fff ? BertStatus{}
                              : status(BertErrc::out_of_memory, "could not pack " + f + "linear_in.weight");
              });
    } else {
      const int64_t I = c.intermediate;  // biases required for hf; crammed use_bias may be false
      const std::string f = p + "ffn.";
      d.group({{f + "in.weight", {I, H}}, {f + "in.bias", {I}}},
              [&m, L, f, H, I] {
                return make_linear(m, f + "in.weight", f + "in.bias", I, H, &L->ffn_in, m.cfg.dense_dtype);
              },
              {true, hf});
      d.group({{f + "out.weight", {H, I}}, {f + "out.bias", {H}}},
              [&m, L, f, H, I] {
                return make_linear(m, f + "out.weight", f + "out.bias", H, I, &L->ffn_out, m.cfg.dense_dtype);
              },
              {true, hf});
    }
  }
  if (!hf) {
    d.plain("final_norm.weight", {H});
    d.plain("final_norm.bias", {H});
  }
  if (c.head == BertHead::mlm) {
    if (hf) {
      d.group({{"mlm.transform.weight", {H, H}}, {"mlm.transform.bias", {H}}}, [&m, H] {
        return make_linear(m, "mlm.transform.weight", "mlm.transform.bias", H, H, &m.mlm_transform, m.cfg.dense_dtype);
      });
      d.plain("mlm.transform_norm.weight", {H});
      d.plain("mlm.transform_norm.bias", {H});
      d.plain("mlm.decoder.bias", {c.vocab});  // set on the decoder by finalize
    }
    d.group({{"mlm.decoder.weight", {c.vocab, H}}}, [&m] { return pack_decoder(m); }, {false});
  }
  const int64_t W = pooler_width_of(c);
  if (W > 0) {
    d.group({{"pooler.weight", {W, H}}, {"pooler.bias", {W}}},
            [&m, W, H] { return make_linear(m, "pooler.weight", "pooler.bias", W, H, &m.pooler, m.cfg.dense_dtype); });
  }
  if (c.head == BertHead::classification) {
    const int64_t L = c.num_labels;
    d.group({{"classifier.weight", {L, W}}, {"classifier.bias", {L}}}, [&m, L, W] {
      return make_linear(m, "classifier.weight", "classifier.bias", L, W, &m.classifier, m.cfg.dense_dtype);
    });
  }
}

// PE[p, 2i] = sin(p * exp(-2i ln(10000) / H)), PE[p, 2i+1] = cos(same), rounded as PyTorch computes it in fp32:
// div_term and p * div_term are fp32 values, sin/cos of them correctly rounded.
std::vector<float> sinusoidal(int64_t positions, int64_t H) {
  std::vector<float> pe(size_t(positions * H));
  const float step = float(-std::log(10000.0) / double(H));
  for (int64_t i = 0; 2 * i < H; ++i) {
    const float div = float(std::exp(double(float(2 * i) * step)));
    for (int64_t p = 0; p < positions; ++p) {
      const float arg = float(p) * div;
      pe[size_t(p * H + 2 * i)] = float(std::sin(double(arg)));
      if (2 * i + 1 < H) pe[size_t(p * H + 2 * i + 1)] = float(std::cos(double(arg)));
    }
  }
  return pe;
}

}  // namespace

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

const float* BertModel::Impl::data(const std::string& name) const {
  auto it = slots.find(name);
  if (it == slots.end() || !it->second.present) return nullptr;
  if (it->second.borrowed) return it->second.borrowed;
  return it->second.data.empty() ? nullptr : it->second.data.data();
}

BertModel::BertModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BertModel::~BertModel() = default;

std::unique_ptr<BertModel> BertModel::create(const BertConfig& config, BertStatus* error) {
  const std::string problem = check_config(config);
  if (!problem.empty()) {
    *error = status(BertErrc::invalid_model, "Invalid model configuration: " + problem);
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  impl->cfg = config;
  declare(*impl);
  impl->prof.layers.resize(size_t(config.layers));
  return std::unique_ptr<BertModel>(new BertModel(std::move(impl)));
}

const BertConfig& BertModel::config() const { return impl_->cfg; }

int64_t BertModel::pooler_width() const { return pooler_width_of(impl_->cfg); }

int64_t BertModel::logits_width() const {
  const BertConfig& c = impl_->cfg;
  return c.head == BertHead::mlm ? c.vocab : c.head == BertHead::classification ? c.num_labels : 0;
}

bool BertModel::tensor_shape(const std::string& name, std::vector<int64_t>* shape) const {
  auto it = impl_->slots.find(name);
  if (it == impl_->slots.end()) return false;
  *shape = it->second.shape;
  return true;
}

std::vector<std::pair<std::string, bool>> BertModel::tensor_names() const {
  std::vector<std::pair<std::string, bool>> out;
  for (const auto& kv : impl_->slots) out.emplace_back(kv.first, kv.second.required);
  return out;
}

BertStatus BertModel::set_tensor(const std::string& name, const float* data, const std::vector<int64_t>& shape) {
  Impl& m = *impl_;
  if (m.finalized) return status(BertErrc::invalid_model, "Cannot set " + name + ": the model is finalized");
  auto it = m.slots.find(name);
  if (it == m.slots.end()) return status(BertErrc::invalid_model, "This model has no tensor named " + name);
  BertSlot& s = it->second;
  if (s.present) return status(BertErrc::invalid_model, "Tensor " + name + " was already set");
  if (shape != s.shape) {
    return status(BertErrc::invalid_shape,
                  "Expected " + name + " to have shape " + shape_str(s.shape) + " but received " + shape_str(shape));
  }
  int64_t n = 1;
  for (int64_t d : s.shape) n *= d;
  bool completes = s.group >= 0;  // the last member of its layer: packed from `data` directly, never copied
  if (completes) {
    for (const std::string& member : m.groups[size_t(s.group)].members) {
      if (member != name && !m.slots[member].present) completes = false;
    }
  }
  if (!completes) {
    try {
      s.data.assign(data, data + n);
    } catch (const std::bad_alloc&) { return status(BertErrc::out_of_memory, "Out of memory copying " + name); }
    s.present = true;
    return {};
  }
  BertGroup& g = m.groups[size_t(s.group)];
  s.present = true;
  s.borrowed = data;
  BertStatus st = g.pack();
  s.borrowed = nullptr;
  if (!st.ok()) {
    s.present = false;  // not kept: setting it again may succeed
    return st;
  }
  g.packed = true;
  for (const std::string& member : g.members) std::vector<float>().swap(m.slots[member].data);
  return {};
}

BertStatus BertModel::finalize() {
  Impl& m = *impl_;
  if (m.finalized) return {};
  std::vector<std::string> missing;
  for (const auto& kv : m.slots) {
    if (kv.second.required && !kv.second.present) missing.push_back(kv.first);
  }
  if (!missing.empty()) {
    std::ostringstream msg;
    msg << "The model is missing " << missing.size() << " tensor" << (missing.size() > 1 ? "s" : "") << ": ";
    for (size_t i = 0; i < missing.size() && i < 20; ++i) msg << (i ? ", " : "") << missing[i];
    if (missing.size() > 20) msg << ", ...";
    return status(BertErrc::invalid_model, msg.str());
  }
  for (BertGroup& g : m.groups) {  // groups with absent optional members
    if (g.packed) continue;
    BertStatus st = g.pack();
    if (!st.ok()) return st;
    g.packed = true;
    for (const std::string& member : g.members) std::vector<float>().swap(m.slots[member].data);
  }
  const bool hf = m.cfg.family == BertFamily::hf;
  m.word = m.data("embeddings.word.weight");
  m.emb_norm_w = m.data("embeddings.norm.weight");
  m.emb_norm_b = m.data("embeddings.norm.bias");
  if (hf) {
    m.position = m.data("embeddings.position.weight");
    m.token_type = m.data("embeddings.token_type.weight");
  } else {
    m.scale_factor = *m.data("embeddings.scale_factor");
    try {
      m.pe = sinusoidal(m.cfg.max_positions, m.cfg.hidden);
    } catch (const std::bad_alloc&) {
      return status(BertErrc::out_of_memory, "Out of memory for the positional encoding");
    }
    m.final_norm_w = m.data("final_norm.weight");
    m.final_norm_b = m.data("final_norm.bias");
  }
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    m.layers[i].norm1_w = m.data(p + "norm1.weight");
    m.layers[i].norm1_b = m.data(p + "norm1.bias");
    m.layers[i].norm2_w = m.data(p + "norm2.weight");
    m.layers[i].norm2_b = m.data(p + "norm2.bias");
  }
  m.mlm_norm_w = m.data("mlm.transform_norm.weight");
  m.mlm_norm_b = m.data("mlm.transform_norm.bias");
  if (m.cfg.head == BertHead::mlm && m.cfg.dense_dtype != LinearDtype::f32) {
    // The decoder in the dense dtype; the word embedding stays fp32 for the lookup (a tied decoder is copied).
    const PackedLinear& src = m.decoder();
    try {
      std::vector<float> rows(size_t(m.cfg.vocab * m.cfg.hidden));
      linear_copy_rows(src, 0, m.cfg.vocab, rows.data());
      PackedLinearPtr dec = linear_create(rows.data(), nullptr, m.cfg.vocab, m.cfg.hidden, m.cfg.dense_dtype);
      if (!dec) return status(BertErrc::out_of_memory, "could not pack mlm.decoder.weight");
      m.mlm_decoder = std::move(dec);
    } catch (const std::bad_alloc&) { return status(BertErrc::out_of_memory, "could not pack mlm.decoder.weight"); }
  }
  if (hf && m.cfg.head == BertHead::mlm) {  // the decoder's bias, on whichever Linear is the decoder
    PackedLinear& dec = m.mlm_decoder ? *m.mlm_decoder : *m.word_packed;
    if (!linear_set_bias(dec, m.data("mlm.decoder.bias")))
      return status(BertErrc::out_of_memory, "could not pack mlm.decoder.bias");
    std::vector<float>().swap(m.slots["mlm.decoder.bias"].data);
  }
  m.finalized = true;
  return {};
}

bool BertModel::finalized() const { return impl_->finalized; }

int64_t BertModel::weight_bytes() const {
  const Impl& m = *impl_;
  int64_t bytes = int64_t(m.pe.size() * sizeof(float));
  for (const auto& kv : m.slots) bytes += int64_t(kv.second.data.size() * sizeof(float));
  auto lin = [](const PackedLinearPtr& p) { return p ? linear_weight_bytes(*p) : 0; };
  for (const BertLayer& L : m.layers) {
    bytes += lin(L.qkv) + lin(L.attn_out) + lin(L.ffn_in) + lin(L.ffn_out) + (L.fff ? fff_weight_bytes(*L.fff) : 0);
  }
  return bytes + lin(m.word_packed) + lin(m.mlm_transform) + lin(m.mlm_decoder) + lin(m.pooler) + lin(m.classifier);
}

BertStatus BertModel::check_inputs(const BertInputs& in) const {
  const BertConfig& c = impl_->cfg;
  if (in.batch < 1 || in.seq < 1) return status(BertErrc::invalid_argument, "batch and seq must be >= 1");
  if (in.seq > c.max_positions) {
    return status(BertErrc::sequence_too_long, "Expected inputIds rows of at most " + std::to_string(c.max_positions) +
                                                   " tokens (the model's maximum) but received " +
                                                   std::to_string(in.seq));
  }
  if (!in.input_ids || !in.attention_mask)
    return status(BertErrc::invalid_argument, "inputIds and attentionMask are required");
  // The message of lib/bert/inputs.ts checkRange, for what lib/ did not check (memory safety: the ids and the
  // token types index tables).
  auto outside = [&](const char* name, int64_t t, int32_t v, const char* what, int64_t limit) {
    return "Expected " + std::string(name) + "[" + std::to_string(t / in.seq) + "][" + std::to_string(t % in.seq) +
           "] to be " + what + " in [0, " + std::to_string(limit - 1) + "] but received " + std::to_string(v);
  };
  const int64_t types = c.type_vocab > 0 ? c.type_vocab : 1;
  for (int64_t t = 0; t < in.batch * in.seq; ++t) {
    const int32_t id = in.input_ids[t];
    if (id < 0 || id >= c.vocab)
      return status(BertErrc::token_out_of_range, outside("inputIds", t, id, "a token id", c.vocab));
    if (in.token_type_ids && (in.token_type_ids[t] < 0 || in.token_type_ids[t] >= types)) {
      return status(BertErrc::invalid_argument,
                    outside("tokenTypeIds", t, in.token_type_ids[t], "a token type", types));
    }
  }
  return {};
}

BertProfile BertModel::profile() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->prof;
}

void BertModel::reset_profile() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  BertProfile fresh;
  fresh.layers.resize(impl_->layers.size());
  impl_->prof = fresh;
}

const char* bert_stage_name(BertStage stage) {
  switch (stage) {
    case BertStage::embedding: return "embedding";
    case BertStage::layernorm: return "layernorm";
    case BertStage::qkv: return "qkv";
    case BertStage::attention: return "attention";
    case BertStage::attn_out: return "attnOut";
    case BertStage::ffn: return "ffn";
    case BertStage::head: return "head";
    default: return "?";
  }
}

}  // namespace fffbert
