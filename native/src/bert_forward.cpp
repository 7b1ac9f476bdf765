// BertModel::forward: embeddings, the layers (crammed pre-LN with FFF, or HF post-LN), final norm and heads.
//
// Activations stay in one workspace (bert_internal.h) for the whole forward: no copies between layers; residual
// adds fused into the epilogues of the output projections and, for the FFF, into the next norm; the last norm
// writes straight into the caller's hidden-state output.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "bert_internal.h"

namespace fffbert {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kAlignFloats = 16;  // 64 bytes
// Attention below this many FLOPs (4*B*S*S*H; 1x16 at H=768: 0.8M, ~20 us) runs on the calling thread.
constexpr double kInlineAttentionFlops = 2e6;

int64_t round_up(int64_t n) { return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

void reserve(BertWorkspace& ws, const BertConfig& c, int64_t pooler_w, int64_t tokens, int64_t batch) {
  if (tokens <= ws.tokens && batch <= ws.batch) return;
  tokens = std::max(tokens, ws.tokens);
  batch = std::max(batch, ws.batch);
  const int64_t H = c.hidden;
  const int64_t ffn_w = c.ffn == BertFfn::dense ? std::max(H, c.intermediate) : H;
  const int64_t sizes[] = {tokens * H,     tokens * H, tokens * 3 * H, tokens * H,
                           tokens * ffn_w, tokens,     batch * H,      batch * std::max<int64_t>(pooler_w, 1)};
  int64_t total = kAlignFloats;
  for (int64_t s : sizes) total += round_up(s);
  std::vector<float> storage(static_cast<size_t>(total));
  float* p = storage.data();
  p += (kAlignFloats - (reinterpret_cast<uintptr_t>(p) / sizeof(float)) % kAlignFloats) % kAlignFloats;
  float** regions[] = {&ws.h, &ws.x, &ws.qkv, &ws.ctx, &ws.ffn, &ws.mask, &ws.pool_in, &ws.pooled};
  for (int i = 0; i < 8; ++i) {
    *regions[i] = p;
    p += round_up(sizes[i]);
  }
  ws.storage.swap(storage);
  ws.tokens = tokens;
  ws.batch = batch;
}

// Records this forward's tokens; frees the workspace when it is above the keep bound and more than twice what
// the median of the recent forwards needs (bert.h). The next forward allocates what it needs.
void trim(BertWorkspace& ws, int64_t tokens) {
  ws.recent[size_t(ws.forwards % int64_t(ws.recent.size()))] = tokens;
  ws.forwards += 1;
  const size_t n = size_t(std::min<int64_t>(ws.forwards, int64_t(ws.recent.size())));
  std::array<int64_t, 16> r = ws.recent;
  std::nth_element(r.begin(), r.begin() + n / 2, r.begin() + n);
  const int64_t median = r[n / 2];
  const int64_t bytes = int64_t(ws.storage.size() * sizeof(float));
  if (bytes > BertModel::kWorkspaceKeepBytes && ws.tokens > 2 * median) {
    std::vector<float>().swap(ws.storage);
    ws.tokens = ws.batch = 0;
    for (float** p : {&ws.h, &ws.x, &ws.qkv, &ws.ctx, &ws.ffn, &ws.mask, &ws.pool_in, &ws.pooled}) *p = nullptr;
  }
}

// Adds wall time to the stage totals and, for layer >= 0, to that layer's row.
class StageTimer {
 public:
  StageTimer(BertProfile& prof) : prof_(prof), t_(Clock::now()) {}
  void lap(BertStage stage, int64_t layer = -1) {
    const Clock::time_point now = Clock::now();
    const double s = std::chrono::duration<double>(now - t_).count();
    prof_.total[size_t(stage)] += s;
    if (layer >= 0) prof_.layers[size_t(layer)][size_t(stage)] += s;
    t_ = now;
  }

 private:
  BertProfile& prof_;
  Clock::time_point t_;
};

}  // namespace

void BertModel::forward(const BertInputs& in, const BertOutputs& out, Isa isa, ThreadPool& pool) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mutex);
  const BertConfig& c = m.cfg;
  const bool hf = c.family == BertFamily::hf;
  const int64_t B = in.batch, S = in.seq, M = B * S, H = c.hidden, hd = c.head_dim;
  const int64_t W = pooler_width();
  reserve(m.ws, c, W, M, B);
  BertWorkspace& ws = m.ws;
  const Clock::time_point start = Clock::now();
  StageTimer timer(m.prof);

  // --- embeddings: h[t] = word[id] + (crammed: scale * PE[s] | hf: position[s] + token_type[type]), then LN.
  const float mask_value = hf ? std::numeric_limits<float>::lowest() : -10000.0f;
  pool.parallel_for(M, row_grain(H), [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t s = t % S;
      float* e = ws.h + t * H;
      const float* w = e;  // MLM models: the row gathered from the packed decoder into e, then used in place
      if (m.word)
        w = m.word + int64_t(in.input_ids[t]) * H;
      else
        linear_copy_rows(*m.word_packed, int64_t(in.input_ids[t]), 1, e);
      if (hf) {
        const float* pos = m.position + s * H;
        const float* typ = m.token_type + (in.token_type_ids ? int64_t(in.token_type_ids[t]) : 0) * H;
        for (int64_t j = 0; j < H; ++j) e[j] = (w[j] + typ[j]) + pos[j];  // HF: inputs + token_type, then + position
      } else {
        const float* pe = m.pe.data() + s * H;
        for (int64_t j = 0; j < H; ++j) e[j] = w[j] + m.scale_factor * pe[j];
      }
      ws.mask[t] = in.attention_mask[t] ? 0.0f : mask_value;  // (1 - m) * -10000 (crammed), min float (hf)
    }
  });
  layernorm(ws.h, M, H, H, m.emb_norm_w, m.emb_norm_b, c.norm_eps, ws.h, H, isa, pool);
  timer.lap(BertStage::embedding);

  const AttentionShape ashape{B, S, c.heads, hd};
  ThreadPool& attn_pool = 4.0 * double(M) * double(S) * double(H) < kInlineAttentionFlops ? *m.inline_pool : pool;
  const float scale = 1.0f / std::sqrt(float(hd));
  // crammed: per head [Q|K|V] of 3hd; hf: Q|K|V blocks of H.
  const int64_t k_off = hf ? H : hd, v_off = hf ? 2 * H : 2 * hd, head_stride = hf ? hd : 3 * hd;
  Epilogue plain;
  Epilogue gelu;
  gelu.act = Activation::gelu_erf;
  float* hidden_out = out.hidden;
  float* h = ws.h;  // the residual stream [M, H]
  // crammed FFF: its output [M, H] in ws.ffn, added to h by the next norm (LN1 of the next layer, or final_norm).
  const float* pending = nullptr;
  auto pre_norm = [&](const float* gamma, const float* beta, float* y) {
    if (pending)
      add_layernorm(h, pending, M, H, gamma, beta, c.norm_eps, y, isa, pool);
    else
      layernorm(h, M, H, H, gamma, beta, c.norm_eps, y, H, isa, pool);
    pending = nullptr;
  };

  for (int64_t li = 0; li < c.layers; ++li) {
    const BertLayer& L = m.layers[size_t(li)];
    // Attention input: crammed LN1(h) in x; hf h itself.
    const float* a_in = h;
    if (!hf) {
      pre_norm(L.norm1_w, L.norm1_b, ws.x);
      a_in = ws.x;
      timer.lap(BertStage::layernorm, li);
    }
    linear_forward(*L.qkv, a_in, M, H, ws.qkv, 3 * H, plain, isa, pool);  // qkv [M, 3H]
    timer.lap(BertStage::qkv, li);
    attention(ws.qkv, ws.qkv + k_off, ws.qkv + v_off, 3 * H, head_stride, ashape, ws.mask, scale, ws.ctx, H, isa,
              attn_pool);
    timer.lap(BertStage::attention, li);
    // Output projection with the residual in its epilogue: crammed h += O ctx (in place: linear_forward then
    // accumulates into h); hf x = h + O ctx + b.
    Epilogue res;
    res.residual = h;
    res.ldr = H;
    linear_forward(*L.attn_out, ws.ctx, M, H, hf ? ws.x : h, H, res, isa, pool);
    timer.lap(BertStage::attn_out, li);

    if (hf) {
      layernorm(ws.x, M, H, H, L.norm1_w, L.norm1_b, c.norm_eps, ws.x, H, isa, pool);  // a = LN(h + attn)
      timer.lap(BertStage::layernorm, li);
      // h = LN(a + W2 GELU(W1 a + b1) + b2); the last layer's norm writes the caller's output.
      linear_forward(*L.ffn_in, ws.x, M, H, ws.ffn, c.intermediate, gelu, isa, pool);
      Epilogue res_a;
      res_a.residual = ws.x;
      res_a.ldr = H;
      linear_forward(*L.ffn_out, ws.ffn, M, c.intermediate, h, H, res_a, isa, pool);
      timer.lap(BertStage::ffn, li);
      float* dst = li + 1 == c.layers ? hidden_out : h;
      layernorm(h, M, H, H, L.norm2_w, L.norm2_b, c.norm_eps, dst, H, isa, pool);
      timer.lap(BertStage::layernorm, li);
      continue;
    }
    layernorm(h, M, H, H, L.norm2_w, L.norm2_b, c.norm_eps, ws.x, H, isa, pool);
    timer.lap(BertStage::layernorm, li);
    if (c.ffn == BertFfn::fff) {
      fff_forward(*L.fff, ws.x, M, H, ws.ffn, H, nullptr, FffStrategy::automatic, isa, pool);  // ffn [M, H]
      pending = ws.ffn;
      timer.lap(BertStage::ffn, li);
    } else {
      linear_forward(*L.ffn_in, ws.x, M, H, ws.ffn, c.intermediate, gelu, isa, pool);
      linear_forward(*L.ffn_out, ws.ffn, M, c.intermediate, h, H, res, isa, pool);  // h += W2 GELU(W1 x) + b2
      timer.lap(BertStage::ffn, li);
    }
  }
  if (!hf) {
    pre_norm(m.final_norm_w, m.final_norm_b, hidden_out);
    timer.lap(BertStage::layernorm);
  }

  // --- heads, all reading the final hidden states [M, H] from the caller's output.
  if (c.head == BertHead::mlm && out.logits) {
    const float* t_in = hidden_out;
    if (hf) {  // transform: LN(GELU(dense(h))) into x, then the decoder with its bias
      linear_forward(*m.mlm_transform, hidden_out, M, H, ws.x, H, gelu, isa, pool);
      layernorm(ws.x, M, H, H, m.mlm_norm_w, m.mlm_norm_b, c.norm_eps, ws.x, H, isa, pool);
      t_in = ws.x;
    }
    linear_forward(m.decoder(), t_in, M, H, out.logits, c.vocab, plain, isa, pool);  // logits [M, V]
  }
  const bool want_cls = c.head == BertHead::classification && out.logits;
  if (m.pooler && (out.pooler || want_cls)) {
    // Pooler input rows: token 0 of each sequence (row stride S*H), or the crammed avg over all S positions.
    const float* p_in = hidden_out;
    int64_t ld_in = S * H;
    if (!hf && c.crammed_pooler == CrammedPooler::avg) {
      pool.parallel_for(B, 1, [&](int64_t b0, int64_t b1, int) {
        for (int64_t b = b0; b < b1; ++b) {
          float* acc = ws.pool_in + b * H;
          std::copy_n(hidden_out + b * S * H, H, acc);
          for (int64_t s = 1; s < S; ++s) {
            const float* row = hidden_out + (b * S + s) * H;
            for (int64_t j = 0; j < H; ++j) acc[j] += row[j];
          }
          for (int64_t j = 0; j < H; ++j) acc[j] /= float(S);
        }
      });
      p_in = ws.pool_in;
      ld_in = H;
    }
    Epilogue tanh_ep;
    tanh_ep.act = Activation::tanh;
    float* pooled = out.pooler ? out.pooler : ws.pooled;
    linear_forward(*m.pooler, p_in, B, ld_in, pooled, W, tanh_ep, isa, pool);  // pooled [B, W]
    if (want_cls) linear_forward(*m.classifier, pooled, B, W, out.logits, c.num_labels, plain, isa, pool);
  }
  timer.lap(BertStage::head);
  m.prof.forwards += 1;
  m.prof.tokens += M;
  m.prof.wall_seconds += std::chrono::duration<double>(Clock::now() - start).count();
  trim(ws, M);
}

int64_t BertModel::workspace_bytes() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return int64_t(impl_->ws.storage.size() * sizeof(float));
}

}  // namespace fffbert
