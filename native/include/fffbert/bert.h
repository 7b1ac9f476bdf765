// The BERT encoder: crammedBERT / UltraFastBERT (pre-LN, FFF feedforward; docs/FFF-SPEC.md section 2) and Hugging Face
// BERT (post-LN, dense feedforward; docs/FFF-SPEC.md section 3), with their MLM, pooler and classification heads.
//
// Life cycle: BertModel::create(config) -> set_tensor(name, data, shape) once per tensor, in any order (each is
// copied, and packed as soon as every tensor of its Linear/FFF layer has arrived; the tensor that completes a
// layer is packed straight from `data`, not copied) -> finalize() -> forward(), which may then run from several
// threads (calls on one model run one after the other).
//
// Tensor names and shapes are this core's own and are written once: declare() in bert.cpp lists them for a
// configuration (PyTorch shapes; tensor_names() and tensor_shape() hand the list out). lib/bert/checkpoint-keys.ts
// maps checkpoint keys onto them; test/checkpoint-keys.test.ts checks that every declared name has a mapping.
// What the names do not say: crammed layers.{i}.attn.qkv.weight holds, per head h, rows h*3hd + [0,hd) Q,
// [hd,2hd) K, [2hd,3hd) V; crammed norm1/norm2 come before attention/the FFN, hf's after. mlm.decoder.weight is
// optional (absent = tied to embeddings.word.weight): the word embedding is held once, packed as the decoder
// weight; a decoder weight that is set is compared with it bitwise and kept as a second table only when it
// differs (untied). The pooler is pooler_width() wide.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fffbert/dense.h"
#include "fffbert/isa.h"
#include "fffbert/pool.h"

namespace fffbert {

enum class BertFamily : int { crammed = 0, hf = 1 };
enum class BertFfn : int { fff = 0, dense = 1 };
enum class BertHead : int { none = 0, mlm = 1, classification = 2 };
// crammedBERT classification pooling (authors' PoolingComponent): avg = unmasked mean over all S positions
// (hidden_states.mean(dim=1), padding included), zero_index = the first token.
enum class CrammedPooler : int { avg = 0, zero_index = 1 };

struct BertConfig {
  BertFamily family = BertFamily::crammed;
  int64_t hidden = 0, layers = 0, heads = 0, head_dim = 0;  // hidden == heads * head_dim
  int64_t vocab = 0, max_positions = 0;
  int64_t type_vocab = 0;  // hf: >= 1; crammed: 0 (no token types)
  float norm_eps = 1e-12f;
  BertFfn ffn = BertFfn::fff;
  int64_t fff_depth = 0, fff_trees = 0;  // ffn == fff
  int64_t intermediate = 0;              // ffn == dense
  BertHead head = BertHead::none;
  int64_t num_labels = 0;  // head == classification
  CrammedPooler crammed_pooler = CrammedPooler::avg;
  int64_t crammed_head_dim = 0;  // crammed classification: width of the pooler's dense layer
  bool hf_pooler = false;        // hf: bert.pooler.dense present (required by a classification head)
  // Storage and arithmetic of the dense Linear layers: QKV, attention output, pooler, heads (MLM transform and
  // decoder, classifier) and a dense feedforward. bf16 also stores the FFF layers' weights in bf16
  // (FffWeights::bf16); with int8 they stay fp32. LayerNorm, softmax, GELU and the residual stream stay fp32.
  // The word embedding stays fp32 for the lookup: a tied MLM decoder gets its own int8 / bf16 copy.
  LinearDtype dense_dtype = LinearDtype::f32;
};

enum class BertErrc : int {
  ok = 0,
  invalid_model,       // configuration, unknown tensor name, tensor set twice, missing tensors at finalize
  invalid_shape,       // a tensor's shape differs from the expected one
  invalid_argument,    // forward: token types, outputs the model cannot produce
  token_out_of_range,  // forward: an id outside [0, vocab)
  sequence_too_long,   // forward: seq > max_positions
  out_of_memory,
};

struct BertStatus {
  BertErrc code = BertErrc::ok;
  std::string message;
  bool ok() const { return code == BertErrc::ok; }
};

// Token t = b*seq + s everywhere: ids/mask/types [batch, seq] row-major.
struct BertInputs {
  const int32_t* input_ids = nullptr;
  const int32_t* attention_mask = nullptr;  // 1 = attend, 0 = padding (the key is masked out)
  const int32_t* token_type_ids = nullptr;  // hf only; null = all 0
  int64_t batch = 0, seq = 0;
};

// hidden: [batch, seq, H], required (crammed: after final_norm). logits: null to skip, else MLM [batch, seq, V]
// or classification [batch, L]. pooler: null to skip, else [batch, pooler_width()].
struct BertOutputs {
  float* hidden = nullptr;
  float* logits = nullptr;
  float* pooler = nullptr;
};

// Wall time per stage, accumulated over forwards: `total` over the whole forward, `layers[i]` inside layer i.
// layernorm includes the FFF's residual add (fused into the next norm); attn_out its residual (in the epilogue).
enum class BertStage : int { embedding = 0, layernorm, qkv, attention, attn_out, ffn, head, count };
constexpr int kBertStages = int(BertStage::count);
const char* bert_stage_name(BertStage stage);
// "[2, 3]": a tensor shape as the core's and the binding's messages write it.
std::string shape_str(const std::vector<int64_t>& shape);

struct BertProfile {
  int64_t forwards = 0, tokens = 0;
  double wall_seconds = 0;  // whole forwards
  std::array<double, kBertStages> total{};
  std::vector<std::array<double, kBertStages>> layers;
};

class BertModel {
 public:
  // Null with *error set when the configuration is invalid or unsupported.
  static std::unique_ptr<BertModel> create(const BertConfig& config, BertStatus* error);
  ~BertModel();
  BertModel(const BertModel&) = delete;
  BertModel& operator=(const BertModel&) = delete;

  const BertConfig& config() const;
  // Width of the pooler output: H (hf), crammed_head_dim (crammed classification), 0 when there is none.
  int64_t pooler_width() const;
  // Columns of one logits row: V (mlm), L (classification), 0 (none). Rows: batch*seq (mlm) or batch.
  int64_t logits_width() const;

  // The expected shape of a tensor name; false when the model has no such tensor.
  bool tensor_shape(const std::string& name, std::vector<int64_t>* shape) const;
  // Every name this model takes, and whether finalize() requires it.
  std::vector<std::pair<std::string, bool>> tensor_names() const;
  // Takes data (count floats, PyTorch layout) for `name` with the given shape: copies it, or packs its layer
  // straight from `data` when this tensor completes it. `data` is not used after the call returns.
  BertStatus set_tensor(const std::string& name, const float* data, const std::vector<int64_t>& shape);
  // Checks that every required tensor arrived (the error lists the missing ones) and packs what remains.
  BertStatus finalize();
  bool finalized() const;
  // Bytes of weights held (packed and plain).
  int64_t weight_bytes() const;

  // Checks what memory safety needs: seq <= max_positions, ids in [0, vocab), token types in [0, type_vocab)
  // (cheap; forward assumes it passed). Mask values are lib/'s check (lib/bert/inputs.ts): any non-zero attends.
  BertStatus check_inputs(const BertInputs& in) const;
  // Runs the encoder with `isa` on `pool`. Requires finalize() and check_inputs(). The scratch workspace is kept
  // per model and grown to the batch*seq a forward needs; after a forward it is freed when it holds more than
  // kWorkspaceKeepBytes and more than twice the tokens of the median of the last 16 forwards (one unusually
  // large batch does not pin its memory until dispose). Throws std::bad_alloc when it cannot be allocated.
  void forward(const BertInputs& in, const BertOutputs& out, Isa isa, ThreadPool& pool);
  static constexpr int64_t kWorkspaceKeepBytes = int64_t(32) << 20;
  // Bytes of the workspace held now.
  int64_t workspace_bytes() const;

  BertProfile profile() const;
  void reset_profile();

  struct Impl;

 private:
  explicit BertModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fffbert
