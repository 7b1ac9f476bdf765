// NativeBertModel: the BERT encoder (native/include/fffbert/bert.h) as a JavaScript object.
//
// new NativeBertModel(config) -> setTensor(name, data, shape) per tensor -> finalize() -> forward()/forwardSync().
// The model lives in a shared_ptr: an in-flight async forward keeps the weights alive after dispose().
// lib/bert/encoder.ts validates first; every check here is the second line.
#include <cmath>
#include <new>

#include "common.h"
#include "fffbert/bert.h"
#include "fffbert/fff.h"

namespace fffbert_napi {
namespace {

using fffbert::BertErrc;
using fffbert::BertModel;
using fffbert::shape_str;

constexpr int64_t kMaxDim = int64_t(1) << 31;

const char* code_of(BertErrc e) {
  switch (e) {
    case BertErrc::invalid_model: return code::kInvalidModel;
    case BertErrc::invalid_shape: return code::kInvalidShape;
    case BertErrc::token_out_of_range: return code::kTokenOutOfRange;
    case BertErrc::sequence_too_long: return code::kSequenceTooLong;
    case BertErrc::out_of_memory: return code::kOutOfMemory;
    case BertErrc::invalid_argument: return code::kInvalidArgument;
    default: return code::kInternal;
  }
}

void throw_status(Napi::Env env, const fffbert::BertStatus& st) {
  if (!st.ok()) throw_error(env, code_of(st.code), st.message);
}

// --- configuration fields: every failure is ERR_FFF_INVALID_MODEL naming config.<field> ---------------------
Napi::Value field(const Napi::Object& o, const char* name) { return o.Get(name); }

[[noreturn]] void bad_field(Napi::Env env, const std::string& name, const std::string& expected, const Napi::Value& v) {
  const std::string got = v.IsUndefined() ? "undefined" : v.ToString().Utf8Value();
  throw_error(env, code::kInvalidModel, "Expected config." + name + " to be " + expected + " but received " + got);
}

int64_t int_field(const Napi::Object& o, const char* name, int64_t min, int64_t max, const char* prefix = "") {
  const Napi::Value v = field(o, name);
  const std::string full = std::string(prefix) + name;
  const std::string expected = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (!v.IsNumber()) bad_field(o.Env(), full, expected, v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < double(min) || d > double(max))
    bad_field(o.Env(), full, expected, v);
  return int64_t(d);
}

// The names of the configuration's enums (common.h Named), one table per enum.
constexpr Named<fffbert::BertFamily> kFamilies[] = {{"crammed", fffbert::BertFamily::crammed},
                                                    {"hf", fffbert::BertFamily::hf}};
constexpr Named<fffbert::BertFfn> kFfns[] = {{"fff", fffbert::BertFfn::fff}, {"dense", fffbert::BertFfn::dense}};
constexpr Named<fffbert::BertHead> kHeads[] = {{"none", fffbert::BertHead::none},
                                               {"mlm", fffbert::BertHead::mlm},
                                               {"classification", fffbert::BertHead::classification}};
constexpr Named<fffbert::CrammedPooler> kPoolers[] = {{"avg", fffbert::CrammedPooler::avg},
                                                      {"zero_index", fffbert::CrammedPooler::zero_index}};
constexpr Named<fffbert::LinearDtype> kDtypes[] = {
    {"fp32", fffbert::LinearDtype::f32}, {"int8", fffbert::LinearDtype::int8}, {"bf16", fffbert::LinearDtype::bf16}};

// A string field naming one value of an enum.
template <typename E, size_t N>
E enum_field(const Napi::Object& o, const char* name, const Named<E> (&allowed)[N], const char* prefix = "") {
  const Napi::Value v = field(o, name);
  E value{};
  if (!find_named(v, allowed, &value)) bad_field(o.Env(), std::string(prefix) + name, one_of(allowed), v);
  return value;
}

Napi::Object object_field(const Napi::Object& o, const char* name) {
  const Napi::Value v = field(o, name);
  if (!v.IsObject() || v.IsArray()) bad_field(o.Env(), name, "an object", v);
  return v.As<Napi::Object>();
}

// The keys parse_config reads and config_object writes, one list: exported as bertConfigKeys and typed by
// lib/native-types.ts NativeBertConfig (test/native-config.test.ts checks the three agree, and the round trip).
constexpr const char* kConfigKeys[] = {"family",    "hiddenSize",   "numLayers",     "numHeads",  "headDim",
                                       "vocabSize", "maxPositions", "typeVocabSize", "normEps",   "ffn",
                                       "head",      "numLabels",    "crammedPooler", "hasPooler", "denseDtype"};

fffbert::BertConfig parse_config(const Napi::Value& value) {
  Napi::Env env = value.Env();
  if (!value.IsObject() || value.IsArray()) {
    throw_error(env, code::kInvalidModel, "Expected config to be an object");
  }
  const Napi::Object o = value.As<Napi::Object>();
  fffbert::BertConfig c;
  c.family = enum_field(o, "family", kFamilies);
  c.hidden = int_field(o, "hiddenSize", 1, 1 << 24);
  c.layers = int_field(o, "numLayers", 1, 4096);
  c.heads = int_field(o, "numHeads", 1, 1 << 24);
  c.head_dim = int_field(o, "headDim", 1, 1 << 24);
  c.vocab = int_field(o, "vocabSize", 1, kMaxDim);
  c.max_positions = int_field(o, "maxPositions", 1, 1 << 24);
  c.type_vocab = int_field(o, "typeVocabSize", 0, 1 << 24);
  const Napi::Value eps = field(o, "normEps");
  if (!eps.IsNumber() || !(eps.As<Napi::Number>().DoubleValue() > 0) ||
      !std::isfinite(eps.As<Napi::Number>().DoubleValue())) {
    bad_field(env, "normEps", "a positive finite number", eps);
  }
  c.norm_eps = float(eps.As<Napi::Number>().DoubleValue());
  const Napi::Object ffn = object_field(o, "ffn");
  c.ffn = enum_field(ffn, "kind", kFfns, "ffn.");
  if (c.ffn == fffbert::BertFfn::fff) {
    c.fff_depth = int_field(ffn, "depth", 0, fffbert::kFffMaxDepth, "ffn.");
    c.fff_trees = int_field(ffn, "trees", 1, 1 << 16, "ffn.");
  } else {
    c.intermediate = int_field(ffn, "intermediateSize", 1, 1 << 24, "ffn.");
  }
  c.head = enum_field(o, "head", kHeads);
  if (c.head == fffbert::BertHead::classification) c.num_labels = int_field(o, "numLabels", 1, 1 << 24);
  if (c.family == fffbert::BertFamily::crammed && c.head == fffbert::BertHead::classification) {
    const Napi::Object p = object_field(o, "crammedPooler");
    c.crammed_pooler = enum_field(p, "kind", kPoolers, "crammedPooler.");
    c.crammed_head_dim = int_field(p, "headDim", 1, 1 << 24, "crammedPooler.");
  }
  const Napi::Value hp = field(o, "hasPooler");
  if (!hp.IsBoolean()) bad_field(env, "hasPooler", "a boolean", hp);
  c.hf_pooler = c.family == fffbert::BertFamily::hf && hp.As<Napi::Boolean>().Value();
  if (!field(o, "denseDtype").IsUndefined()) c.dense_dtype = enum_field(o, "denseDtype", kDtypes);  // absent: fp32
  return c;
}

// The configuration as parse_config understood it, in its input form (every key of kConfigKeys; fields the
// configuration does not use are 0, false or undefined).
Napi::Object config_object(Napi::Env env, const fffbert::BertConfig& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("family", name_of(c.family, kFamilies));
  o.Set("hiddenSize", double(c.hidden));
  o.Set("numLayers", double(c.layers));
  o.Set("numHeads", double(c.heads));
  o.Set("headDim", double(c.head_dim));
  o.Set("vocabSize", double(c.vocab));
  o.Set("maxPositions", double(c.max_positions));
  o.Set("typeVocabSize", double(c.type_vocab));
  o.Set("normEps", double(c.norm_eps));
  Napi::Object ffn = Napi::Object::New(env);
  ffn.Set("kind", name_of(c.ffn, kFfns));
  if (c.ffn == fffbert::BertFfn::fff) {
    ffn.Set("depth", double(c.fff_depth));
    ffn.Set("trees", double(c.fff_trees));
  } else {
    ffn.Set("intermediateSize", double(c.intermediate));
  }
  o.Set("ffn", ffn);
  o.Set("head", name_of(c.head, kHeads));
  o.Set("numLabels", double(c.num_labels));
  Napi::Value pooler = env.Undefined();
  if (c.family == fffbert::BertFamily::crammed && c.head == fffbert::BertHead::classification) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("kind", name_of(c.crammed_pooler, kPoolers));
    p.Set("headDim", double(c.crammed_head_dim));
    pooler = p;
  }
  o.Set("crammedPooler", pooler);
  o.Set("hasPooler", c.hf_pooler);
  o.Set("denseDtype", name_of(c.dense_dtype, kDtypes));
  return o;
}

// --- forward ------------------------------------------------------------------------------------------------
// ids, mask and types are copied at the call (also by forwardSync: another thread may write a SharedArrayBuffer)
// and checked on the copy, so what is checked is what the forward reads.
struct ForwardArgs {
  std::shared_ptr<BertModel> model;
  OwnedInput<int32_t> ids, mask, types;
  fffbert::BertInputs in;
  fffbert::BertOutputs out;
  int64_t hidden_n = 0, logits_n = 0, pooler_n = 0;  // 0: the model has no such output
  fffbert::Isa isa = fffbert::Isa::scalar;

  void run() { model->forward(in, out, isa, fffbert::default_pool()); }
};

// An async forward: resolves with { hidden, logits, pooler } (new arrays, or the caller's, filled at the end).
class ForwardJob final : public AsyncJob {
 public:
  ForwardArgs args;
  OwnedOutput hidden, logits, pooler;

  void run() override {
    try {
      args.run();
    } catch (const std::bad_alloc&) { fail(code::kOutOfMemory, "Out of memory for the encoder's activations"); }
  }
  Napi::Value result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("hidden", hidden.take(env));
    o.Set("logits", logits.active() ? logits.take(env) : env.Null());
    o.Set("pooler", pooler.active() ? pooler.take(env) : env.Null());
    return o;
  }
  void abandon() override {
    hidden.abandon();
    logits.abandon();
    pooler.abandon();
  }
};

class BertModelWrap final : public Napi::ObjectWrap<BertModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "NativeBertModel",
        {InstanceMethod<&BertModelWrap::Config>("config"), InstanceMethod<&BertModelWrap::TensorNames>("tensorNames"),
         InstanceMethod<&BertModelWrap::PoolerWidth>("poolerWidth"),
         InstanceMethod<&BertModelWrap::SetTensor>("setTensor"), InstanceMethod<&BertModelWrap::Finalize>("finalize"),
         InstanceMethod<&BertModelWrap::Forward>("forward"), InstanceMethod<&BertModelWrap::ForwardSync>("forwardSync"),
         InstanceMethod<&BertModelWrap::Profile>("profile"),
         InstanceMethod<&BertModelWrap::ResetProfile>("resetProfile"),
         InstanceMethod<&BertModelWrap::Dispose>("dispose"), InstanceMethod<&BertModelWrap::WeightBytes>("weightBytes"),
         InstanceMethod<&BertModelWrap::WorkspaceBytes>("workspaceBytes")});
  }

  // new NativeBertModel(config)
  explicit BertModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BertModelWrap>(info) {
    expect_args(info, 1, "NativeBertModel");
    const fffbert::BertConfig c = parse_config(info[0]);
    fffbert::BertStatus st;
    std::unique_ptr<BertModel> m = BertModel::create(c, &st);
    if (!m) throw_status(info.Env(), st);
    model_ = std::shared_ptr<BertModel>(std::move(m));
  }
  ~BertModelWrap() override { release(); }

 private:
  std::shared_ptr<BertModel> live(Napi::Env env) {
    if (!model_) throw_error(env, code::kDisposed, "This BERT model has been disposed");
    return model_;
  }

  // The configuration as parsed (config_object).
  Napi::Value Config(const Napi::CallbackInfo& info) { return config_object(info.Env(), live(info.Env())->config()); }

  // Columns of one poolerOutput row (bert.h pooler_width(): the one definition), 0 when there is no pooler.
  Napi::Value PoolerWidth(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(live(info.Env())->pooler_width()));
  }

  // [{ name, required, shape }] of every tensor this configuration takes.
  Napi::Value TensorNames(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::shared_ptr<BertModel> m = live(env);
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    for (const auto& nr : m->tensor_names()) {
      std::vector<int64_t> shape;
      m->tensor_shape(nr.first, &shape);
      Napi::Array s = Napi::Array::New(env, shape.size());
      for (uint32_t d = 0; d < shape.size(); ++d) s.Set(d, Napi::Number::New(env, double(shape[d])));
      Napi::Object e = Napi::Object::New(env);
      e.Set("name", nr.first);
      e.Set("required", nr.second);
      e.Set("shape", s);
      out.Set(i++, e);
    }
    return out;
  }

  // setTensor(name, data: Float32Array, shape: number[]): copied (and packed) before returning.
  Napi::Value SetTensor(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    expect_args(info, 3, "setTensor");
    std::shared_ptr<BertModel> m = live(env);
    if (!info[0].IsString()) throw_error(env, code::kInvalidArgument, "Expected name to be a string");
    const std::string name = info[0].As<Napi::String>().Utf8Value();
    Napi::Float32Array data = expect_f32(info[1], "data");
    if (!info[2].IsArray()) throw_error(env, code::kInvalidArgument, "Expected shape to be an array of integers");
    Napi::Array arr = info[2].As<Napi::Array>();
    if (arr.Length() > 8)
      throw_error(env, code::kInvalidShape, "Expected shape of " + name + " to have at most 8 dimensions");
    std::vector<int64_t> shape;
    int64_t n = 1;
    for (uint32_t d = 0; d < arr.Length(); ++d) {
      shape.push_back(expect_int(arr.Get(d), "shape[i]", 0, kMaxDim));
      n = shape.back() == 0 || n <= (int64_t(1) << 40) / shape.back() ? n * shape.back() : int64_t(1) << 41;
    }
    std::vector<int64_t> expected;
    if (!m->tensor_shape(name, &expected))
      throw_error(env, code::kInvalidModel, "This model has no tensor named " + name);
    if (shape != expected) {
      throw_error(env, code::kInvalidShape,
                  "Expected " + name + " to have shape " + shape_str(expected) + " but received " + shape_str(shape));
    }
    expect_length(env, data.ElementLength(), n, name.c_str());
    const int64_t before = m->weight_bytes();
    throw_status(env, m->set_tensor(name, data.Data(), shape));
    adjust(m->weight_bytes() - before);
    return env.Undefined();
  }

  Napi::Value Finalize(const Napi::CallbackInfo& info) {
    std::shared_ptr<BertModel> m = live(info.Env());
    const int64_t before = m->weight_bytes();
    throw_status(info.Env(), m->finalize());
    adjust(m->weight_bytes() - before);
    return info.Env().Undefined();
  }

  // The fields of forward's one argument (lib/native-types.ts NativeBertForwardArgs), each read once and all
  // before any pointer into an array is taken: a getter cannot detach an array the call already holds.
  struct Fields {
    Napi::Value ids, mask, types, batch, seq, hidden, logits, pooler;
  };
  static Fields forward_args(const Napi::CallbackInfo& info) {
    expect_args(info, 1, "forward");
    if (!info[0].IsObject() || info[0].IsArray() || info[0].IsTypedArray())
      throw_error(info.Env(), code::kInvalidArgument, "Expected the forward arguments to be an object");
    const Napi::Object o = info[0].As<Napi::Object>();
    return {o.Get("inputIds"), o.Get("attentionMask"), o.Get("tokenTypeIds"), o.Get("batch"),
            o.Get("seq"),      o.Get("outHidden"),     o.Get("outLogits"),    o.Get("outPooler")};
  }

  // { inputIds, attentionMask, tokenTypeIds?, batch, seq }: the inputs, copied into `a` and checked there, and
  // the output sizes.
  void parse(const Fields& args, ForwardArgs& a) {
    Napi::Env env = args.ids.Env();
    a.model = live(env);
    const BertModel& m = *a.model;
    if (!m.finalized()) throw_error(env, code::kInvalidModel, "The model is not finalized: call finalize() first");
    Napi::Int32Array ids = expect_i32(args.ids, "inputIds");
    Napi::Int32Array mask = expect_i32(args.mask, "attentionMask");
    Napi::Int32Array types;
    const bool has_types = optional_i32(args.types, "tokenTypeIds", &types);
    a.in.batch = expect_int(args.batch, "batch", 1, kMaxDim);
    a.in.seq = expect_int(args.seq, "seq", 1, kMaxDim);
    if (a.in.batch > kMaxDim / a.in.seq) throw_error(env, code::kInvalidShape, "batch x seq is too large");
    const int64_t tokens = a.in.batch * a.in.seq;
    expect_length(env, ids.ElementLength(), tokens, "inputIds");
    expect_length(env, mask.ElementLength(), tokens, "attentionMask");
    if (has_types) expect_length(env, types.ElementLength(), tokens, "tokenTypeIds");
    a.hidden_n = tokens * m.config().hidden;
    if (m.logits_width() > 0) {
      const int64_t rows = m.config().head == fffbert::BertHead::mlm ? tokens : a.in.batch;
      if (rows > (int64_t(1) << 40) / m.logits_width()) throw_error(env, code::kInvalidShape, "outLogits is too large");
      a.logits_n = rows * m.logits_width();
    }
    a.pooler_n = a.in.batch * m.pooler_width();
    try {
      a.ids.copy(ids.Data(), size_t(tokens));
      a.mask.copy(mask.Data(), size_t(tokens));
      if (has_types) a.types.copy(types.Data(), size_t(tokens));
    } catch (const std::bad_alloc&) { throw_error(env, code::kOutOfMemory, "Out of memory copying the inputs"); }
    a.in.input_ids = a.ids.data();
    a.in.attention_mask = a.mask.data();
    a.in.token_type_ids = has_types ? a.types.data() : nullptr;
    throw_status(env, m.check_inputs(a.in));
    a.isa = fffbert::isa_active();
  }

  // An output argument. forwardSync: a Float32Array of length n, or null/undefined (not wanted; hidden is
  // required). forward: also true (a new array; hidden: null too).
  static bool output(const Napi::Value& v, const char* what, int64_t n, const char* none, bool async,
                     Napi::Value* given) {
    Napi::Env env = v.Env();
    const bool fresh = async && v.IsBoolean() && v.As<Napi::Boolean>().Value();
    if (!fresh && (v.IsUndefined() || v.IsNull() || (async && v.IsBoolean()))) return false;
    if (n == 0) throw_error(env, code::kInvalidArgument, none);
    if (!fresh) expect_length(env, expect_f32(v, what).ElementLength(), n, what);
    *given = fresh ? env.Undefined() : v;
    return true;
  }

  // forwardSync({ ...inputs, outHidden, outLogits?, outPooler? })
  Napi::Value ForwardSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Fields args = forward_args(info);
    ForwardArgs a;
    parse(args, a);
    Napi::Value given;
    if (!output(args.hidden, "outHidden", a.hidden_n, "", false, &given)) { expect_f32(args.hidden, "outHidden"); }
    a.out.hidden = given.As<Napi::Float32Array>().Data();
    if (output(args.logits, "outLogits", a.logits_n, "This model has no head that produces logits", false, &given)) {
      a.out.logits = given.As<Napi::Float32Array>().Data();
    }
    if (output(args.pooler, "outPooler", a.pooler_n, "This model has no pooler", false, &given)) {
      a.out.pooler = given.As<Napi::Float32Array>().Data();
    }
    try {
      a.run();
    } catch (const std::bad_alloc&) {
      throw_error(env, code::kOutOfMemory, "Out of memory for the encoder's activations");
    }
    return env.Undefined();
  }

  // forward({ ...inputs, outHidden?, outLogits?: array|true, outPooler?: array|true })
  //   -> Promise<{ hidden, logits|null, pooler|null }>
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Fields args = forward_args(info);
    auto job = std::make_unique<ForwardJob>();
    ForwardArgs& a = job->args;
    parse(args, a);
    Napi::Value given;
    if (!output(args.hidden, "outHidden", a.hidden_n, "", true, &given)) given = env.Undefined();
    job->hidden.init(env, given, size_t(a.hidden_n), "lastHiddenState");
    a.out.hidden = job->hidden.data();
    if (output(args.logits, "outLogits", a.logits_n, "This model has no head that produces logits", true, &given)) {
      const bool mlm = a.model->config().head == fffbert::BertHead::mlm;
      job->logits.init(env, given, size_t(a.logits_n), mlm ? "the MLM logits" : "the logits");
      a.out.logits = job->logits.data();
    }
    if (output(args.pooler, "outPooler", a.pooler_n, "This model has no pooler", true, &given)) {
      job->pooler.init(env, given, size_t(a.pooler_n), "poolerOutput");
      a.out.pooler = job->pooler.data();
    }
    return submit(env, std::move(job));
  }

  // { forwards, tokens, wallSeconds, stages: { <stage>: seconds }, layers: [{ <stage>: seconds }] }
  Napi::Value Profile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const fffbert::BertProfile p = live(env)->profile();
    auto stages = [&](const std::array<double, fffbert::kBertStages>& s) {
      Napi::Object o = Napi::Object::New(env);
      for (int i = 0; i < fffbert::kBertStages; ++i)
        o.Set(fffbert::bert_stage_name(fffbert::BertStage(i)), s[size_t(i)]);
      return o;
    };
    Napi::Object out = Napi::Object::New(env);
    out.Set("forwards", double(p.forwards));
    out.Set("tokens", double(p.tokens));
    out.Set("wallSeconds", p.wall_seconds);
    out.Set("stages", stages(p.total));
    Napi::Array layers = Napi::Array::New(env, p.layers.size());
    for (uint32_t i = 0; i < p.layers.size(); ++i) layers.Set(i, stages(p.layers[i]));
    out.Set("layers", layers);
    return out;
  }

  Napi::Value ResetProfile(const Napi::CallbackInfo& info) {
    live(info.Env())->reset_profile();
    return info.Env().Undefined();
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    release();
    return info.Env().Undefined();
  }

  Napi::Value WeightBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(live(info.Env())->weight_bytes()));
  }

  // Bytes of scratch the model holds between forwards (bert.h: freed after an unusually large batch).
  Napi::Value WorkspaceBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(live(info.Env())->workspace_bytes()));
  }

  void adjust(int64_t delta) {
    if (delta == 0) return;
    Napi::MemoryManagement::AdjustExternalMemory(Env(), delta);
    bytes_ += delta;
  }

  void release() {
    if (!model_) return;
    model_.reset();
    adjust(-bytes_);
  }

  std::shared_ptr<BertModel> model_;
  int64_t bytes_ = 0;
};

}  // namespace

void init_model(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeBertModel", BertModelWrap::Define(env));
  Napi::Array keys = Napi::Array::New(env);
  for (const char* k : kConfigKeys) keys.Set(keys.Length(), k);
  exports.Set("bertConfigKeys", keys);
  export_names(exports, "family", kFamilies);
  export_names(exports, "ffn", kFfns);
  export_names(exports, "head", kHeads);
  export_names(exports, "crammedPooler", kPoolers);
  export_names(exports, "denseDtype", kDtypes);
}

}  // namespace fffbert_napi
