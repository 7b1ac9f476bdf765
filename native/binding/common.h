// Shared pieces of the N-API binding: argument checks that throw Errors with stable codes and the per-context
// instance data (async calls: async.h).
//
// Marshalling only: no math here. Every JavaScript value is checked with Is*() before As<>(); nothing reachable
// from JavaScript input aborts the process.
#pragma once
#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "async.h"

namespace fffbert_napi {

// Stable error codes: a subset of lib/errors.ts ErrorCode, which owns them.
namespace code {
constexpr const char* kInvalidArgument = "ERR_FFF_INVALID_ARGUMENT";
constexpr const char* kInvalidType = "ERR_FFF_INVALID_TYPE";
constexpr const char* kInvalidShape = "ERR_FFF_INVALID_SHAPE";
constexpr const char* kInvalidLength = "ERR_FFF_INVALID_LENGTH";
constexpr const char* kDisposed = "ERR_FFF_DISPOSED";
constexpr const char* kUnsupportedIsa = "ERR_FFF_UNSUPPORTED_ISA";
constexpr const char* kOutOfMemory = "ERR_FFF_OUT_OF_MEMORY";
constexpr const char* kTokenOutOfRange = "ERR_FFF_TOKEN_OUT_OF_RANGE";
constexpr const char* kSequenceTooLong = "ERR_FFF_SEQUENCE_TOO_LONG";
constexpr const char* kInvalidModel = "ERR_FFF_INVALID_MODEL";
constexpr const char* kInternal = "ERR_FFF_INTERNAL";
// Every code above, exported as errorCodes (test/native-enums.test.ts: each is one of lib/errors.ts ErrorCode).
constexpr const char* kAll[] = {kInvalidArgument, kInvalidType,    kInvalidShape, kInvalidLength,
                                kDisposed,        kUnsupportedIsa, kOutOfMemory,  kTokenOutOfRange,
                                kSequenceTooLong, kInvalidModel,   kInternal};
}  // namespace code

// An Error with `code` set, as Node's own errors carry: an FffError (lib/errors.ts) once lib/native.ts has
// registered the class with setErrorClass(), a plain Error before.
Napi::Error make_error(Napi::Env env, const char* code, const std::string& message);
[[noreturn]] void throw_error(Napi::Env env, const char* code, const std::string& message);

// Argument checks: `what` names the argument in the message ("x", "linearInWeight", ...).
Napi::Float32Array expect_f32(const Napi::Value& v, const char* what);
// Undefined or null -> false (out untouched); otherwise must be a Float32Array.
bool optional_f32(const Napi::Value& v, const char* what, Napi::Float32Array* out);
Napi::Int32Array expect_i32(const Napi::Value& v, const char* what);
bool optional_i32(const Napi::Value& v, const char* what, Napi::Int32Array* out);
// An integral Number in [min, max].
int64_t expect_int(const Napi::Value& v, const char* what, int64_t min, int64_t max);
void expect_length(Napi::Env env, size_t actual, int64_t expected, const char* what);
void expect_args(const Napi::CallbackInfo& info, size_t n, const char* fn);
// A value for a message: a string quoted ('bf16'), anything else by its type ("number", "Float32Array").
std::string describe(const Napi::Value& v);

// One name crossing the boundary for one value of a core enum. Each enum's names are written once, in one
// table of the binding, and exported in enumNames (lib/native-types.ts NativeEnumNames types them;
// test/native-enums.test.ts checks the two agree and that every name round-trips).
template <typename E>
struct Named {
  const char* name;
  E value;
};

// "one of 'a', 'b', 'c'"
template <typename E, size_t N>
std::string one_of(const Named<E> (&names)[N]) {
  std::string s = "one of";
  for (size_t i = 0; i < N; ++i) s += std::string(i == 0 ? " '" : ", '") + names[i].name + "'";
  return s;
}

// The value `v` names: false when `v` is not a string or not one of `names` (*out untouched).
template <typename E, size_t N>
bool find_named(const Napi::Value& v, const Named<E> (&names)[N], E* out) {
  if (!v.IsString()) return false;
  const std::string s = v.As<Napi::String>().Utf8Value();
  for (const Named<E>& n : names) {
    if (s == n.name) {
      *out = n.value;
      return true;
    }
  }
  return false;
}

// `v` as one of `names`; ERR_FFF_INVALID_ARGUMENT naming `what` and listing them otherwise.
template <typename E, size_t N>
E expect_named(const Napi::Value& v, const char* what, const Named<E> (&names)[N]) {
  E value{};
  if (!find_named(v, names, &value)) {
    throw_error(v.Env(), code::kInvalidArgument,
                std::string("Expected ") + what + " to be " + one_of(names) + " but received " + describe(v));
  }
  return value;
}

template <typename E, size_t N>
const char* name_of(E value, const Named<E> (&names)[N]) {
  for (const Named<E>& n : names) {
    if (n.value == value) return n.name;
  }
  return "?";
}

// exports.enumNames[key] = the names of one table, in its order.
template <typename E, size_t N>
void export_names(Napi::Object exports, const char* key, const Named<E> (&names)[N]) {
  Napi::Env env = exports.Env();
  if (!exports.Has("enumNames")) exports.Set("enumNames", Napi::Object::New(env));
  Napi::Array a = Napi::Array::New(env, N);
  for (uint32_t i = 0; i < N; ++i) a.Set(i, names[i].name);
  exports.Get("enumNames").As<Napi::Object>().Set(key, a);
}

// Per-context state (the addon is context-aware: worker_threads each get their own).
struct AddonData {
  Napi::FunctionReference error_class;  // FffError, from setErrorClass()
  AsyncContext async;
};

// Registration of each part of the binding on `exports`.
void init_layers(Napi::Env env, Napi::Object exports);
void init_model(Napi::Env env, Napi::Object exports);

}  // namespace fffbert_napi
