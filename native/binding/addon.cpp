// Addon entry: per-context instance data, instruction-set and thread controls, then each part's exports.
#include "common.h"
#include "fffbert/dense.h"
#include "fffbert/fff.h"
#include "fffbert/isa.h"
#include "fffbert/memory.h"
#include "fffbert/pool.h"

namespace fffbert_napi {
namespace {

using fffbert::Isa;

Napi::Value IsaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("active", fffbert::isa_name(fffbert::isa_active()));
  out.Set("best", fffbert::isa_name(fffbert::isa_best()));
  Napi::Array supported = Napi::Array::New(env);
  uint32_t n = 0;
  for (int i = 0; i < fffbert::kIsaCount; ++i) {
    if (fffbert::isa_supported(Isa(i))) supported.Set(n++, fffbert::isa_name(Isa(i)));
  }
  out.Set("supported", supported);
  // The kernels the int8 / bf16 dense layers run on with the active set.
  out.Set("int8", fffbert::linear_kernel_name(fffbert::LinearDtype::int8, fffbert::isa_active()));
  out.Set("bf16", fffbert::linear_kernel_name(fffbert::LinearDtype::bf16, fffbert::isa_active()));
  const fffbert::CpuFeatures& f = fffbert::cpu_features();
  Napi::Object features = Napi::Object::New(env);
  features.Set("avx2", f.avx2);
  features.Set("fma", f.fma);
  features.Set("f16c", f.f16c);
  features.Set("avx512f", f.avx512f);
  features.Set("avx512bw", f.avx512bw);
  features.Set("avx512dq", f.avx512dq);
  features.Set("avx512vl", f.avx512vl);
  features.Set("avx512bf16", f.avx512_bf16);
  features.Set("neon", f.neon);
  features.Set("neonBf16", f.neon_bf16);
  features.Set("avx512vnni", f.avx512_vnni);
  features.Set("avxvnni", f.avx_vnni);
  features.Set("amxTile", f.amx_tile);
  features.Set("amxInt8", f.amx_int8);
  features.Set("amxBf16", f.amx_bf16);
  features.Set("amxPermitted", fffbert::amx_permitted());  // false with amxInt8 true: Linux refused the tiles
  features.Set("neonDotprod", f.neon_dotprod);
  features.Set("neonI8mm", f.neon_i8mm);
  out.Set("features", features);
  return out;
}

Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  expect_args(info, 1, "setIsa");
  if (!info[0].IsString()) throw_error(env, code::kInvalidArgument, "Expected isa to be a string");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  Isa isa;
  if (!fffbert::isa_parse(name.c_str(), &isa)) {
    std::string names;
    for (int i = 0; i < fffbert::kIsaCount; ++i)
      names += std::string(i == 0 ? "'" : ", '") + fffbert::isa_name(Isa(i)) + "'";
    throw_error(env, code::kInvalidArgument, "Expected isa to be one of " + names + " but received '" + name + "'");
  }
  if (!fffbert::isa_set_active(isa)) {
    throw_error(env, code::kUnsupportedIsa, "Instruction set " + name + " is not supported on this CPU");
  }
  return env.Undefined();
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  expect_args(info, 1, "setThreads");
  const int64_t n = expect_int(info[0], "threads", 1, 1024);
  fffbert::set_default_threads(int(n));
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), fffbert::default_threads());
}

// setErrorClass(FffError): native errors are constructed as new FffError(code, message) from now on.
Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  expect_args(info, 1, "setErrorClass");
  if (!info[0].IsFunction()) throw_error(info.Env(), code::kInvalidArgument, "Expected errorClass to be a function");
  info.Env().GetInstanceData<AddonData>()->error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// alignmentOffset(arrayBuffer): the bytes from its data to the next cache line (0-63), for
// alignedFloat32Array (runtime.ts), which allocates the buffer itself: v8::ArrayBuffer::New ends the process
// when memory runs out, `new ArrayBuffer` throws a RangeError.
Napi::Value AlignmentOffset(const Napi::CallbackInfo& info) {
  expect_args(info, 1, "alignmentOffset");
  if (!info[0].IsArrayBuffer()) {
    throw_error(info.Env(), code::kInvalidArgument, "Expected arrayBuffer to be an ArrayBuffer");
  }
  return Napi::Number::New(info.Env(), double(fffbert::bytes_to_cache_line(info[0].As<Napi::ArrayBuffer>().Data())));
}

// Async forwards queued or running on the dispatcher, every context of the process.
Napi::Value JobsInFlight(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(jobs_in_flight()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);  // deleted by N-API when this context goes away
  init_async(env, &data->async);
  // FFFBERT_ISA naming an unknown or unsupported set is reported once, not silently ignored.
  exports.Set("isaEnvOk", Napi::Boolean::New(env, fffbert::isa_apply_env()));
  exports.Set("isa", Napi::Function::New(env, IsaInfo, "isa"));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa, "setIsa"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("threads", Napi::Function::New(env, GetThreads, "threads"));
  exports.Set("fffMaxDepth", Napi::Number::New(env, double(fffbert::kFffMaxDepth)));
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  Napi::Array codes = Napi::Array::New(env);
  for (const char* c : code::kAll) codes.Set(codes.Length(), c);
  exports.Set("errorCodes", codes);
  exports.Set("alignmentOffset", Napi::Function::New(env, AlignmentOffset, "alignmentOffset"));
  exports.Set("cacheLine", Napi::Number::New(env, double(fffbert::kCacheLine)));
  exports.Set("jobsInFlight", Napi::Function::New(env, JobsInFlight, "jobsInFlight"));
  init_layers(env, exports);
  init_model(env, exports);
  // The instruction sets' names: the core's isa_name(), in Isa order.
  Napi::Array isa_names = Napi::Array::New(env);
  for (int i = 0; i < fffbert::kIsaCount; ++i) isa_names.Set(uint32_t(i), fffbert::isa_name(Isa(i)));
  exports.Get("enumNames").As<Napi::Object>().Set("isa", isa_names);
  return exports;
}

}  // namespace
}  // namespace fffbert_napi

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return fffbert_napi::Init(env, exports); }
NODE_API_MODULE(fffbert, InitAddon)
