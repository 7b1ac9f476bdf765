// Layer objects: FastFeedforward, Linear, DenseFeedforward. Each owns packed weights through a shared_ptr so
// an in-flight async forward keeps them alive even when dispose() is called meanwhile.
//
// JavaScript side (lib/layers/*.ts) validates first; these checks are the second line. forward() owns what it
// reads and writes (async.h): x is copied at the call, the result is a new array or copied into `out` at the end.
#include <cmath>
#include <cstring>
#include <new>
#include <vector>

#include "common.h"
#include "fffbert/dense.h"
#include "fffbert/fff.h"
#include "fffbert/memory.h"

namespace fffbert_napi {
namespace {

using fffbert::FffLayer;
using fffbert::FffStrategy;
using fffbert::FffWeights;
using fffbert::PackedLinear;

constexpr int64_t kMaxDim = int64_t(1) << 31;

int64_t checked_mul(Napi::Env env, int64_t a, int64_t b, const char* what) {
  if (a != 0 && b > INT64_MAX / a) throw_error(env, code::kInvalidShape, std::string(what) + " is too large");
  return a * b;
}

// Per-call checks at one N-API call per good argument (forwardSync of one token is ~1 us in all): each asks
// N-API once and, for anything it does not accept, defers to the check of common.h, which throws that check's
// usual error (so codes and messages are those of expect_f32 / expect_int / expect_named).

// The data of a typed array of `type` (int32_t or float) and its length at *len.
template <typename T>
T* typed_data(const Napi::Value& v, napi_typedarray_type type, const char* what, size_t* len) {
  napi_typedarray_type t = napi_int8_array;
  void* data = nullptr;
  if (napi_get_typedarray_info(v.Env(), v, &t, len, &data, nullptr, nullptr) != napi_ok || t != type) {
    if (type == napi_int32_array) {
      expect_i32(v, what);
    } else {
      expect_f32(v, what);
    }
    throw_error(v.Env(), code::kInvalidType, std::string("Could not read ") + what);
  }
  return static_cast<T*>(data);
}

// expect_int's integer in [min, max].
int64_t int_arg(const Napi::Value& v, const char* what, int64_t min, int64_t max) {
  double d = 0.0;
  if (napi_get_value_double(v.Env(), v, &d) == napi_ok && d >= double(min) && d <= double(max) && std::floor(d) == d) {
    return int64_t(d);
  }
  return expect_int(v, what, min, max);
}

// expect_named's value of one of `names`.
template <typename E, size_t N>
E named_arg(const Napi::Value& v, const char* what, const Named<E> (&names)[N]) {
  char buf[32];
  size_t len = 0;
  if (napi_get_value_string_utf8(v.Env(), v, buf, sizeof buf, &len) == napi_ok && len + 1 < sizeof buf) {
    for (const Named<E>& n : names) {
      if (std::strlen(n.name) == len && std::memcmp(buf, n.name, len) == 0) return n.value;
    }
  }
  return expect_named(v, what, names);
}

// Undefined or null: false; otherwise true, with typed_data's array at *out.
template <typename T>
bool optional_data(const Napi::Value& v, napi_typedarray_type type, const char* what, T** out, size_t* len) {
  napi_valuetype t = napi_undefined;
  if (napi_typeof(v.Env(), v, &t) == napi_ok && (t == napi_undefined || t == napi_null)) return false;
  *out = typed_data<T>(v, type, what, len);
  return true;
}

// The output argument at `index`: required for forwardSync; optional for forward (undefined or null: a fresh
// array). Returns the caller's array data, or null.
float* output_arg(const Napi::CallbackInfo& info, size_t index, int64_t n, bool async) {
  float* y = nullptr;
  size_t len = 0;
  if (async ? optional_data(info[index], napi_float32_array, "out", &y, &len)
            : (y = typed_data<float>(info[index], napi_float32_array, "out", &len), true)) {
    expect_length(info.Env(), len, n, "out");
  }
  return y;
}

bool overlaps(const float* a, int64_t na, const float* b, int64_t nb) { return a < b + nb && b < a + na; }

// An async forward: x copied at the call, y in memory only this job reaches (async.h), Args::run() on a
// dispatcher thread.
struct LayerBuffers {
  OwnedInput<float> x, residual;
  OwnedOutput y;
};

template <typename Args>
class LayerJob final : public AsyncJob {
 public:
  Args args;
  LayerBuffers buf;
  void run() override { args.run(); }
  Napi::Value result(Napi::Env env) override { return buf.y.take(env); }
  void abandon() override { buf.y.abandon(); }
};

// What the three layer objects share: packed weights held through a shared_ptr (an in-flight worker keeps
// its own reference, so dispose() during a forward is safe), their size reported to V8, and
// forward / forwardSync / dispose / weightBytes over Derived::parse(info, weights) -> Args (checked arguments +
// weights). forwardSync is a function of each object's own, whose N-API data is the layer's state: a call
// skips napi_unwrap (a private-symbol lookup on the object, ~30 ns of a one-token FFF call's ~250 ns in the
// binding, issue 10). It needs no `this`; if it outlives its object, calls throw ERR_FFF_DISPOSED (the object's
// finalizer releases the weights, the function's frees the state).
template <typename Weights>
struct LayerState {
  std::shared_ptr<Weights> weights;  // null once disposed
};

template <typename Derived, typename Weights, typename Args>
class LayerWrap : public Napi::ObjectWrap<Derived> {
 public:
  explicit LayerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Derived>(info) {
    Napi::Env env = info.Env();
    auto holder = std::make_unique<std::shared_ptr<State>>(state_);
    Napi::Function fn = Napi::Function::New<&LayerWrap::ForwardSync>(env, "forwardSync", holder.get());
    fn.AddFinalizer([](Napi::Env, std::shared_ptr<State>* h) { delete h; }, holder.get());
    holder.release();
    info.This().As<Napi::Object>().DefineProperty(Napi::PropertyDescriptor::Value("forwardSync", fn, napi_default));
  }
  ~LayerWrap() override { release(); }

 protected:
  using Base = Napi::ObjectWrap<Derived>;
  using State = LayerState<Weights>;

  static Napi::Function define(Napi::Env env, const char* name,
                               std::vector<typename Base::PropertyDescriptor> extra = {}) {
    std::vector<typename Base::PropertyDescriptor> methods = {
        Base::InstanceMethod("forward", &LayerWrap::Forward), Base::InstanceMethod("dispose", &LayerWrap::Dispose),
        Base::InstanceMethod("weightBytes", &LayerWrap::WeightBytes)};
    methods.insert(methods.end(), extra.begin(), extra.end());
    return Base::DefineClass(env, name, methods);
  }

  void adopt(Napi::Env env, std::shared_ptr<Weights> w, int64_t bytes) {
    state_->weights = std::move(w);
    bytes_ = bytes;
    Napi::MemoryManagement::AdjustExternalMemory(env, bytes_);
  }

 private:
  // The weights for one call; ERR_FFF_DISPOSED after dispose().
  static const std::shared_ptr<Weights>& live(Napi::Env env, const State& s) {
    if (!s.weights) throw_error(env, code::kDisposed, std::string(Derived::kName) + " has been disposed");
    return s.weights;
  }

  static Napi::Value ForwardSync(const Napi::CallbackInfo& info) {
    const State& s = **static_cast<std::shared_ptr<State>*>(info.Data());
    // The weights without a reference of the call's own (an aliasing shared_ptr with no owner: no atomic count
    // up and down, ~10 ns of a one-token FFF call): nothing can release them before this returns, as dispose()
    // and the object's finalizer run on this thread.
    Args args =
        Derived::parse(info, std::shared_ptr<Weights>(std::shared_ptr<Weights>(), live(info.Env(), s).get()), false);
    try {
      args.run();
    } catch (const std::bad_alloc&) {
      throw_error(info.Env(), code::kOutOfMemory, "Out of memory for the activations");
    }
    return Napi::Value();  // undefined to JavaScript, without asking N-API for it
  }

  // Resolves with the output: the caller's `out` (filled on completion) or a new Float32Array.
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto job = std::make_unique<LayerJob<Args>>();
    Args& a = job->args;
    a = Derived::parse(info, live(env, *state_), true);
    try {
      job->buf.x.copy(a.x, size_t(a.x_n));
    } catch (const std::bad_alloc&) { throw_error(env, code::kOutOfMemory, "Out of memory copying x"); }
    job->buf.y.init(env, info[2], size_t(a.y_n), "out");
    Derived::own(*job, a.y);
    a.x = job->buf.x.data();
    a.y = job->buf.y.data();
    return submit(env, std::move(job));
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    release();
    return info.Env().Undefined();
  }

  Napi::Value WeightBytes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(bytes_)); }

  void release() {
    if (!state_->weights) return;
    state_->weights.reset();
    Napi::MemoryManagement::AdjustExternalMemory(this->Env(), -bytes_);
  }

  std::shared_ptr<State> state_ = std::make_shared<State>();
  int64_t bytes_ = 0;
};

// ---------------------------------------------------------------------------------------------------------
// FastFeedforward

// The names of the layers' enums (common.h Named), one table per enum.
constexpr Named<FffWeights> kWeights[] = {
    {"f32", FffWeights::f32}, {"bf16", FffWeights::bf16}, {"bf16-dot", FffWeights::bf16_dot}};
constexpr Named<FffStrategy> kStrategies[] = {
    {"auto", FffStrategy::automatic}, {"per-token", FffStrategy::per_token}, {"batched", FffStrategy::batched}};
constexpr Named<fffbert::Activation> kActivations[] = {
    {"none", fffbert::Activation::none}, {"gelu", fffbert::Activation::gelu_erf}, {"tanh", fffbert::Activation::tanh}};
constexpr Named<fffbert::FffProbe> kProbes[] = {
    {"dot", fffbert::FffProbe::dot}, {"gather", fffbert::FffProbe::gather}, {"read", fffbert::FffProbe::read}};

// Undefined -> f32; otherwise one of kWeights.
FffWeights parse_weights(const Napi::Value& v) {
  return v.IsUndefined() ? FffWeights::f32 : expect_named(v, "weights", kWeights);
}

struct FffForwardArgs {
  std::shared_ptr<FffLayer> layer;
  const float* x = nullptr;
  float* y = nullptr;
  int32_t* paths = nullptr;
  int64_t rows = 0, x_n = 0, y_n = 0;
  FffStrategy strategy = FffStrategy::automatic;
  fffbert::Isa isa = fffbert::Isa::scalar;

  void run() const {
    const fffbert::FffShape& s = fffbert::fff_shape(*layer);
    fffbert::fff_forward(*layer, x, rows, s.input_width, y, s.output_width, paths, strategy, isa,
                         fffbert::default_pool());
  }
};

class FastFeedforwardWrap final : public LayerWrap<FastFeedforwardWrap, FffLayer, FffForwardArgs> {
 public:
  static constexpr const char* kName = "FastFeedforward";
  static Napi::Function Define(Napi::Env env) {
    return define(env, "NativeFastFeedforward", {InstanceMethod("weightDtype", &FastFeedforwardWrap::WeightDtype)});
  }

  // new NativeFastFeedforward(I, O, D, K, linearInWeight, linearInBias, linearOutWeight, weights?)
  // weights: 'f32' (default), 'bf16' or 'bf16-dot' (fff.h FffWeights).
  explicit FastFeedforwardWrap(const Napi::CallbackInfo& info) : LayerWrap(info) {
    Napi::Env env = info.Env();
    expect_args(info, 7, "FastFeedforward");
    fffbert::FffShape s;
    s.input_width = expect_int(info[0], "inputWidth", 1, kMaxDim);
    s.output_width = expect_int(info[1], "outputWidth", 1, kMaxDim);
    s.depth = expect_int(info[2], "depth", 0, fffbert::kFffMaxDepth);
    s.trees = expect_int(info[3], "trees", 1, 1 << 16);
    const int64_t nodes = checked_mul(env, s.trees, s.nodes_per_tree(), "trees * nodes");
    Napi::Float32Array w_in = expect_f32(info[4], "linearInWeight");
    Napi::Float32Array b_in = expect_f32(info[5], "linearInBias");
    Napi::Float32Array w_out = expect_f32(info[6], "linearOutWeight");
    expect_length(env, w_in.ElementLength(), checked_mul(env, nodes, s.input_width, "linearInWeight"),
                  "linearInWeight");
    expect_length(env, b_in.ElementLength(), nodes, "linearInBias");
    expect_length(env, w_out.ElementLength(), checked_mul(env, nodes, s.output_width, "linearOutWeight"),
                  "linearOutWeight");
    const FffWeights weights = parse_weights(info[7]);
    fffbert::FffLayerPtr p;
    try {
      p = fffbert::fff_create(s, w_in.Data(), b_in.Data(), w_out.Data(), weights);
    } catch (const std::bad_alloc&) { throw_error(env, code::kOutOfMemory, "Out of memory packing the FFF weights"); }
    if (!p) throw_error(env, code::kInvalidShape, "Invalid FFF shape");
    const int64_t bytes = fffbert::fff_weight_bytes(*p);
    adopt(env, std::shared_ptr<FffLayer>(p.release(), fffbert::FffLayerDeleter()), bytes);
    dtype_ = weights;
  }

  // forward(x, rows, out|null, null, strategy), forwardSync(x, rows, out, paths|null, strategy); strategy: a
  // name of kStrategies, or undefined for 'auto'; paths and strategy may be left out (null, 'auto').
  static FffForwardArgs parse(const Napi::CallbackInfo& info, const std::shared_ptr<FffLayer>& layer, bool async) {
    Napi::Env env = info.Env();
    expect_args(info, 3, "forward");
    FffForwardArgs a;
    a.layer = layer;
    const fffbert::FffShape& s = fffbert::fff_shape(*a.layer);
    size_t x_len = 0;
    a.x = typed_data<float>(info[0], napi_float32_array, "x", &x_len);
    a.rows = int_arg(info[1], "rows", 1, kMaxDim);
    a.x_n = checked_mul(env, a.rows, s.input_width, "x");
    a.y_n = checked_mul(env, a.rows, s.output_width, "out");
    expect_length(env, x_len, a.x_n, "x");
    a.y = output_arg(info, 2, a.y_n, async);
    size_t paths_len = 0;
    if (info.Length() > 3 && optional_data(info[3], napi_int32_array, "paths", &a.paths, &paths_len)) {
      if (async)
        throw_error(env, code::kInvalidArgument, "Expected paths to be null in forward(): paths come from forwardSync");
      const int64_t per_row = s.trees * (s.depth + 1);
      expect_length(env, paths_len, checked_mul(env, a.rows, per_row, "paths"), "paths");
    }
    a.strategy = info.Length() > 4 && !info[4].IsUndefined() ? named_arg(info[4], "strategy", kStrategies)
                                                             : FffStrategy::automatic;
    a.isa = fffbert::isa_active();
    return a;
  }
  static void own(LayerJob<FffForwardArgs>&, const float*) {}

  Napi::Value WeightDtype(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), name_of(dtype_, kWeights));
  }

 private:
  FffWeights dtype_ = FffWeights::f32;
};

// ---------------------------------------------------------------------------------------------------------
// Linear and DenseFeedforward share the packed-linear machinery.

std::shared_ptr<PackedLinear> make_linear(Napi::Env env, const Napi::Value& weight, const Napi::Value& bias, int64_t n,
                                          int64_t k, const char* wname, const char* bname) {
  Napi::Float32Array w = expect_f32(weight, wname);
  expect_length(env, w.ElementLength(), checked_mul(env, n, k, wname), wname);
  Napi::Float32Array b;
  const float* bptr = nullptr;
  if (optional_f32(bias, bname, &b)) {
    expect_length(env, b.ElementLength(), n, bname);
    bptr = b.Data();
  }
  fffbert::PackedLinearPtr p;
  try {
    p = fffbert::linear_create(w.Data(), bptr, n, k);
  } catch (const std::bad_alloc&) { throw_error(env, code::kOutOfMemory, "Out of memory packing a linear weight"); }
  if (!p) throw_error(env, code::kInvalidShape, "Invalid linear shape");
  return std::shared_ptr<PackedLinear>(p.release(), fffbert::PackedLinearDeleter());
}

struct LinearArgs {
  std::shared_ptr<PackedLinear> w;
  const float* x = nullptr;
  float* y = nullptr;
  int64_t rows = 0, x_n = 0, y_n = 0;
  fffbert::Epilogue ep;
  fffbert::Isa isa = fffbert::Isa::scalar;

  // linear_forward needs y apart from x: forwardSync(x, rows, { out: x }) computes into a temporary.
  void run() const {
    const int64_t k = fffbert::linear_in_features(*w), n = fffbert::linear_out_features(*w);
    if (!overlaps(x, x_n, y, y_n)) {
      fffbert::linear_forward(*w, x, rows, k, y, n, ep, isa, fffbert::default_pool());
      return;
    }
    std::unique_ptr<float[]> tmp(new float[size_t(y_n)]);
    fffbert::linear_forward(*w, x, rows, k, tmp.get(), n, ep, isa, fffbert::default_pool());
    std::memcpy(y, tmp.get(), size_t(y_n) * sizeof(float));
  }
};

class LinearWrap final : public LayerWrap<LinearWrap, PackedLinear, LinearArgs> {
 public:
  static constexpr const char* kName = "Linear";
  static Napi::Function Define(Napi::Env env) { return define(env, "NativeLinear"); }

  // new NativeLinear(outFeatures, inFeatures, weight, bias|null)
  explicit LinearWrap(const Napi::CallbackInfo& info) : LayerWrap(info) {
    Napi::Env env = info.Env();
    expect_args(info, 4, "Linear");
    const int64_t n = expect_int(info[0], "outFeatures", 1, kMaxDim);
    const int64_t k = expect_int(info[1], "inFeatures", 1, kMaxDim);
    std::shared_ptr<PackedLinear> w = make_linear(env, info[2], info[3], n, k, "weight", "bias");
    const int64_t bytes = fffbert::linear_weight_bytes(*w);
    adopt(env, std::move(w), bytes);
  }

  // forward(x, rows, out|null, activation, residual|null); forwardSync: out required; activation: a name of
  // kActivations
  static LinearArgs parse(const Napi::CallbackInfo& info, const std::shared_ptr<PackedLinear>& w, bool async) {
    Napi::Env env = info.Env();
    expect_args(info, 5, "forward");
    LinearArgs a;
    a.w = w;
    const int64_t n = fffbert::linear_out_features(*a.w), k = fffbert::linear_in_features(*a.w);
    Napi::Float32Array x = expect_f32(info[0], "x");
    a.rows = expect_int(info[1], "rows", 1, kMaxDim);
    a.x_n = checked_mul(env, a.rows, k, "x");
    a.y_n = checked_mul(env, a.rows, n, "out");
    expect_length(env, x.ElementLength(), a.x_n, "x");
    a.y = output_arg(info, 2, a.y_n, async);
    a.ep.act = expect_named(info[3], "activation", kActivations);
    Napi::Float32Array r;
    if (optional_f32(info[4], "residual", &r)) {
      expect_length(env, r.ElementLength(), a.rows * n, "residual");
      a.ep.residual = r.Data();
      a.ep.ldr = n;
    }
    a.x = x.Data();
    a.isa = fffbert::isa_active();
    return a;
  }

  // The residual is copied too; when it is the caller's `out` itself, y starts as it and accumulates in place
  // as forwardSync does (linear_forward sums r + x W^T + b then: the same bits).
  static void own(LayerJob<LinearArgs>& job, const float* caller_y) {
    LinearArgs& a = job.args;
    if (!a.ep.residual) return;
    if (a.ep.residual == caller_y) {
      std::memcpy(job.buf.y.data(), a.ep.residual, size_t(a.y_n) * sizeof(float));
      a.ep.residual = job.buf.y.data();
      return;
    }
    job.buf.residual.copy(a.ep.residual, size_t(a.y_n));
    a.ep.residual = job.buf.residual.data();
  }
};

struct DenseFfWeights {
  std::shared_ptr<PackedLinear> in, out;
};

struct DenseFfArgs {
  std::shared_ptr<DenseFfWeights> w;
  const float* x = nullptr;
  float* y = nullptr;
  int64_t rows = 0, x_n = 0, y_n = 0;
  fffbert::Isa isa = fffbert::Isa::scalar;

  // y = out(GELU(in(x))); the hidden activations live only for this call.
  void run() const {
    const int64_t width = fffbert::linear_in_features(*w->in);
    const int64_t hidden = fffbert::linear_out_features(*w->in);
    const int64_t out_w = fffbert::linear_out_features(*w->out);
    std::unique_ptr<float[]> h(new float[size_t(rows * hidden)]);
    fffbert::Epilogue gelu;
    gelu.act = fffbert::Activation::gelu_erf;
    fffbert::linear_forward(*w->in, x, rows, width, h.get(), hidden, gelu, isa, fffbert::default_pool());
    fffbert::linear_forward(*w->out, h.get(), rows, hidden, y, out_w, fffbert::Epilogue(), isa,
                            fffbert::default_pool());
  }
};

class DenseFeedforwardWrap final : public LayerWrap<DenseFeedforwardWrap, DenseFfWeights, DenseFfArgs> {
 public:
  static constexpr const char* kName = "DenseFeedforward";
  static Napi::Function Define(Napi::Env env) { return define(env, "NativeDenseFeedforward"); }

  // new NativeDenseFeedforward(width, hidden, outWidth, inWeight, inBias|null, outWeight, outBias|null)
  explicit DenseFeedforwardWrap(const Napi::CallbackInfo& info) : LayerWrap(info) {
    Napi::Env env = info.Env();
    expect_args(info, 7, "DenseFeedforward");
    const int64_t width = expect_int(info[0], "inputWidth", 1, kMaxDim);
    const int64_t hidden = expect_int(info[1], "hiddenWidth", 1, kMaxDim);
    const int64_t out_w = expect_int(info[2], "outputWidth", 1, kMaxDim);
    auto w = std::make_shared<DenseFfWeights>();
    w->in = make_linear(env, info[3], info[4], hidden, width, "inWeight", "inBias");
    w->out = make_linear(env, info[5], info[6], out_w, hidden, "outWeight", "outBias");
    const int64_t bytes = fffbert::linear_weight_bytes(*w->in) + fffbert::linear_weight_bytes(*w->out);
    adopt(env, std::move(w), bytes);
  }

  // forward(x, rows, out|null); forwardSync: out required
  static DenseFfArgs parse(const Napi::CallbackInfo& info, const std::shared_ptr<DenseFfWeights>& w, bool async) {
    Napi::Env env = info.Env();
    expect_args(info, 3, "forward");
    DenseFfArgs a;
    a.w = w;
    Napi::Float32Array x = expect_f32(info[0], "x");
    a.rows = expect_int(info[1], "rows", 1, kMaxDim);
    a.x_n = checked_mul(env, a.rows, fffbert::linear_in_features(*a.w->in), "x");
    a.y_n = checked_mul(env, a.rows, fffbert::linear_out_features(*a.w->out), "out");
    expect_length(env, x.ElementLength(), a.x_n, "x");
    a.y = output_arg(info, 2, a.y_n, async);
    a.x = x.Data();
    a.isa = fffbert::isa_active();
    return a;
  }
  static void own(LayerJob<DenseFfArgs>&, const float*) {}
};

}  // namespace

// fffProbe(kind: 'dot' | 'gather' | 'read', weights, bytes, milliseconds) -> rate over the pool's threads (fff.h
// fff_probe), at the active ISA. For the benchmark's roofline only: it blocks the calling thread for about
// `milliseconds` (1..1000), so it is not part of the public API (lib/index.ts does not export it).
Napi::Value FffProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  expect_args(info, 4, "fffProbe");
  const fffbert::FffProbe k = expect_named(info[0], "kind", kProbes);
  const FffWeights weights = parse_weights(info[1]);
  const int64_t bytes = expect_int(info[2], "bytes", 0, int64_t(1) << 32);
  const int64_t ms = expect_int(info[3], "milliseconds", 1, 1000);
  const double rate =
      fffbert::fff_probe(k, weights, bytes, double(ms) / 1000.0, fffbert::isa_active(), fffbert::default_pool());
  if (!(rate > 0.0)) throw_error(env, code::kOutOfMemory, "fffProbe could not allocate its buffers");
  return Napi::Number::New(env, rate);
}

// fffStreamsOutput(weightBytes, rows, inputWidth, outputWidth, threads) -> whether fff_forward writes the output of
// such a call (on cache lines) past the caches on this machine (fff.h fff_streams_output, cache_sizes()). For the
// benchmark's roofline, which then charges y's store without its read for ownership; not part of the public API.
Napi::Value FffStreamsOutput(const Napi::CallbackInfo& info) {
  expect_args(info, 5, "fffStreamsOutput");
  const int64_t weight_bytes = expect_int(info[0], "weightBytes", 0, int64_t(1) << 50);
  const int64_t rows = expect_int(info[1], "rows", 0, int64_t(1) << 31);
  const int64_t in = expect_int(info[2], "inputWidth", 1, kMaxDim);
  const int64_t out = expect_int(info[3], "outputWidth", 1, kMaxDim);
  const int64_t threads = expect_int(info[4], "threads", 1, 1024);
  alignas(fffbert::kCacheLine) static float line[16];  // stands for y: on a cache line, as the benchmark's arrays are
  return Napi::Boolean::New(info.Env(), fffbert::fff_streams_output(weight_bytes, rows, in, out, line, out,
                                                                    int(threads), fffbert::cache_sizes()));
}

void init_layers(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeFastFeedforward", FastFeedforwardWrap::Define(env));
  exports.Set("NativeLinear", LinearWrap::Define(env));
  exports.Set("NativeDenseFeedforward", DenseFeedforwardWrap::Define(env));
  exports.Set("fffProbe", Napi::Function::New(env, FffProbe, "fffProbe"));
  exports.Set("fffStreamsOutput", Napi::Function::New(env, FffStreamsOutput, "fffStreamsOutput"));
  export_names(exports, "fffWeights", kWeights);
  export_names(exports, "fffStrategy", kStrategies);
  export_names(exports, "activation", kActivations);
  export_names(exports, "fffProbe", kProbes);
}

}  // namespace fffbert_napi
