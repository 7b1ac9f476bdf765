// Errors with stable codes and the argument checks shared by the binding.
#include <cmath>
#include <limits>

#include "common.h"

namespace fffbert_napi {

Napi::Error make_error(Napi::Env env, const char* code, const std::string& message) {
  const AddonData* data = env.GetInstanceData<AddonData>();
  if (data && !data->error_class.IsEmpty()) {
    try {
      return Napi::Error(env, data->error_class.New({Napi::String::New(env, code), Napi::String::New(env, message)}));
    } catch (const Napi::Error&) {
      // The class threw (or the context cannot run JavaScript): a plain Error with the code below.
    }
  }
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

void throw_error(Napi::Env env, const char* code, const std::string& message) { throw make_error(env, code, message); }

namespace {
std::string type_name(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_int8_array: return "Int8Array";
      case napi_uint8_array: return "Uint8Array";
      case napi_uint8_clamped_array: return "Uint8ClampedArray";
      case napi_int16_array: return "Int16Array";
      case napi_uint16_array: return "Uint16Array";
      case napi_int32_array: return "Int32Array";
      case napi_uint32_array: return "Uint32Array";
      case napi_float32_array: return "Float32Array";
      case napi_float64_array: return "Float64Array";
      case napi_bigint64_array: return "BigInt64Array";
      case napi_biguint64_array: return "BigUint64Array";
      default: return "TypedArray";
    }
  }
  if (v.IsArray()) return "Array";
  if (v.IsNumber()) return "number";
  if (v.IsString()) return "string";
  if (v.IsBoolean()) return "boolean";
  if (v.IsFunction()) return "function";
  return "object";
}

// v as a typed array of type t, else ERR_FFF_INVALID_TYPE: "Expected <what> to be <expected> but received ...".
template <typename Array>
Array expect_typed(const Napi::Value& v, const char* what, napi_typedarray_type t, const char* expected) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != t) {
    throw_error(v.Env(), code::kInvalidType,
                std::string("Expected ") + what + " to be " + expected + " but received " + type_name(v));
  }
  return v.As<Array>();
}
}  // namespace

std::string describe(const Napi::Value& v) {
  return v.IsString() ? "'" + v.As<Napi::String>().Utf8Value() + "'" : type_name(v);
}

Napi::Float32Array expect_f32(const Napi::Value& v, const char* what) {
  return expect_typed<Napi::Float32Array>(v, what, napi_float32_array, "a Float32Array");
}

bool optional_f32(const Napi::Value& v, const char* what, Napi::Float32Array* out) {
  if (v.IsUndefined() || v.IsNull()) return false;
  *out = expect_f32(v, what);
  return true;
}

Napi::Int32Array expect_i32(const Napi::Value& v, const char* what) {
  return expect_typed<Napi::Int32Array>(v, what, napi_int32_array, "an Int32Array");
}

bool optional_i32(const Napi::Value& v, const char* what, Napi::Int32Array* out) {
  if (v.IsUndefined() || v.IsNull()) return false;
  *out = expect_i32(v, what);
  return true;
}

int64_t expect_int(const Napi::Value& v, const char* what, int64_t min, int64_t max) {
  if (!v.IsNumber()) {
    throw_error(v.Env(), code::kInvalidArgument,
                std::string("Expected ") + what + " to be an integer but received " + type_name(v));
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < double(min) || d > double(max)) {
    throw_error(v.Env(), code::kInvalidArgument,
                std::string("Expected ") + what + " to be an integer in [" + std::to_string(min) + ", " +
                    std::to_string(max) + "] but received " + Napi::Number(v.Env(), v).ToString().Utf8Value());
  }
  return int64_t(d);
}

void expect_length(Napi::Env env, size_t actual, int64_t expected, const char* what) {
  if (int64_t(actual) != expected) {
    throw_error(env, code::kInvalidLength,
                std::string("Expected ") + what + " to have length " + std::to_string(expected) +
                    " but received length " + std::to_string(actual));
  }
}

void expect_args(const Napi::CallbackInfo& info, size_t n, const char* fn) {
  if (info.Length() < n) {
    throw_error(
        info.Env(), code::kInvalidArgument,
        std::string(fn) + " expects " + std::to_string(n) + " arguments but received " + std::to_string(info.Length()));
  }
}

}  // namespace fffbert_napi
