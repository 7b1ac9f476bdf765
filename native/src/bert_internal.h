// BertModel's state, shared by bert.cpp (configuration, tensors, packing) and bert_forward.cpp (the forward).
#pragma once
#include <array>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "fffbert/bert.h"
#include "fffbert/dense.h"
#include "fffbert/fff.h"

namespace fffbert {

// One named tensor as it arrived, PyTorch layout. Plain tensors (norms, embeddings) are used from `data`
// directly; members of a packed layer drop `data` once their layer is packed. The member that completes its
// layer is not copied: `borrowed` points at the caller's array during that set_tensor call only.
struct BertSlot {
  std::vector<int64_t> shape;
  bool required = true;
  bool present = false;
  std::vector<float> data;
  const float* borrowed = nullptr;
  int group = -1;  // index in Impl::groups, -1 for plain tensors
};

// Tensors packed together into one object (a Linear with its bias, the three FFF tensors, HF's Q/K/V).
struct BertGroup {
  std::vector<std::string> members;
  std::function<BertStatus()> pack;  // reads its members' data, packs into the Impl
  bool packed = false;
};

struct BertLayer {
  // crammed: [3H, H] interleaved per head, no bias; hf: Q|K|V blocks [3H, H] with bias [3H].
  PackedLinearPtr qkv;
  PackedLinearPtr attn_out;  // [H, H] (+ bias hf)
  const float *norm1_w = nullptr, *norm1_b = nullptr, *norm2_w = nullptr, *norm2_b = nullptr;
  FffLayerPtr fff;                  // ffn == fff
  PackedLinearPtr ffn_in, ffn_out;  // ffn == dense: [I, H], [H, I]
};

// Per-forward scratch, one allocation grown to the batch*seq a forward needs; every region 64-byte aligned.
// Kept between forwards for the typical size, freed after an unusually large one (bert.h: workspace bound).
struct BertWorkspace {
  std::vector<float> storage;
  int64_t tokens = 0, batch = 0;     // capacity
  std::array<int64_t, 16> recent{};  // batch*seq of the last forwards (a ring)
  int64_t forwards = 0;
  float* h = nullptr;        // [M, H] residual stream
  float* x = nullptr;        // [M, H] normalised input of a sublayer (hf: the post-attention stream)
  float* qkv = nullptr;      // [M, 3H]
  float* ctx = nullptr;      // [M, H] attention output, heads concatenated
  float* ffn = nullptr;      // [M, max(H, I)] FFF output or dense intermediate
  float* mask = nullptr;     // [M] additive key mask
  float* pool_in = nullptr;  // [B, H] pooled hidden states (crammed avg)
  float* pooled = nullptr;   // [B, W] pooler output when the caller did not ask for it
};

struct BertModel::Impl {
  BertConfig cfg;
  std::map<std::string, BertSlot> slots;
  std::vector<BertGroup> groups;
  bool finalized = false;

  // Resolved by finalize().
  const float *word = nullptr, *position = nullptr, *token_type = nullptr;
  const float *emb_norm_w = nullptr, *emb_norm_b = nullptr;
  float scale_factor = 0;
  std::vector<float> pe;  // crammed: sinusoidal PE [P, H], unscaled (not in the checkpoint)
  std::vector<BertLayer> layers;
  const float *final_norm_w = nullptr, *final_norm_b = nullptr;
  // head == mlm: the word embedding [V, H] is held once, packed as the decoder's weight: the lookup gathers
  // rows with linear_copy_rows and `word` stays null. mlm_decoder is set only for an untied decoder (a
  // checkpoint decoder weight that differs from the embedding); decoder() picks the one the logits use.
  PackedLinearPtr word_packed;
  PackedLinearPtr mlm_transform, mlm_decoder;  // transform: hf only
  const float *mlm_norm_w = nullptr, *mlm_norm_b = nullptr;
  PackedLinearPtr pooler, classifier;

  // Runs jobs on the calling thread: stages too small to repay a pool hand-off (which, on a loaded machine, can
  // wait for a descheduled worker) use it.
  std::unique_ptr<ThreadPool> inline_pool = make_pool(1);
  std::mutex mutex;  // one forward at a time per model: guards ws and prof
  BertWorkspace ws;
  BertProfile prof;

  const float* data(const std::string& name) const;                                          // null when absent
  const PackedLinear& decoder() const { return mlm_decoder ? *mlm_decoder : *word_packed; }  // head == mlm
};

}  // namespace fffbert
