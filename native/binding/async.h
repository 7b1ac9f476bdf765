// Async calls without the libuv threadpool, and without touching caller memory after the call returns.
//
// forward() builds an AsyncJob on the JavaScript thread: inputs copied into memory the job owns, outputs in
// memory nobody else can reach (a fresh Float32Array held by reference, or a native buffer copied into the
// caller's `out` on completion). The job runs on the addon's own dispatcher threads (process-wide, shared by
// every worker_thread), which call into the compute pool; a queued job holds no thread. Completion comes back
// on the JavaScript thread of the context that started it through one Node-API thread-safe function per
// context. When that context is torn down (worker.terminate()) first, finished jobs are freed without any
// Node-API call: nothing is resolved, nothing throws.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "fffbert/memory.h"

namespace fffbert_napi {

class CompletionChannel;

// One async call. run() on a dispatcher thread (no Node-API there); result() on the JavaScript thread.
class AsyncJob {
 public:
  virtual ~AsyncJob() = default;
  // The work, on memory this job owns. std::bad_alloc becomes ERR_FFF_OUT_OF_MEMORY.
  virtual void run() = 0;
  // After run() succeeded: what the promise resolves with. A Napi::Error thrown here rejects it.
  virtual Napi::Value result(Napi::Env env) = 0;
  // The context is gone: drop every JavaScript reference without a Node-API call.
  virtual void abandon() {}

  // For run(): fail with a stable code.
  void fail(const char* code, const std::string& message) {
    error_code_ = code;
    error_message_ = message;
  }

 private:
  friend class CompletionChannel;
  friend Napi::Value submit(Napi::Env env, std::unique_ptr<AsyncJob> job);
  friend void run_job(AsyncJob* job);
  napi_deferred deferred_ = nullptr;
  std::shared_ptr<CompletionChannel> channel_;
  const char* error_code_ = nullptr;
  std::string error_message_;
};

// Queues the job on the dispatcher and returns its promise (JavaScript thread).
Napi::Value submit(Napi::Env env, std::unique_ptr<AsyncJob> job);

// Forwards queued or running on the dispatcher, all contexts (for tests and the soak script).
int64_t jobs_in_flight();

// Per-context state of the async machinery; created by init_async, kept in AddonData.
struct AsyncContext {
  std::shared_ptr<CompletionChannel> channel;
};
void init_async(Napi::Env env, AsyncContext* ctx);

// Native buffers handed to the kernels start on a cache line (fffbert::kCacheLine): a vector load or store then
// never straddles two lines (a 768-float row of a 16-byte aligned array does in every vector; the FFF layer at
// 2048 tokens ran 8-14% slower so, Zen 4, bench/native/ab_fff.cpp with AB_OFFSET_B=16).

// An input the job reads: copied at the call, so later writes, transfers or resizes of the caller's array
// cannot reach the work. The copy is the core's aligned storage (fffbert/memory.h). Throws std::bad_alloc when it
// cannot be allocated.
template <typename T>
class OwnedInput {
 public:
  void copy(const T* data, size_t n) {
    if (n == 0) {
      p_.reset();
      return;
    }
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
    p_.reset(static_cast<T*>(fffbert::alloc_aligned(n * sizeof(T))));
    if (!p_) throw std::bad_alloc();
    std::memcpy(p_.get(), data, n * sizeof(T));
  }
  const T* data() const { return p_.get(); }
  T* data() { return p_.get(); }

 private:
  struct Free {
    void operator()(T* p) const { fffbert::free_aligned(p); }
  };
  std::unique_ptr<T, Free> p_;
};

// A Float32Array output. The work writes a native buffer (never memory of the JavaScript heap: a context torn
// down mid-forward frees its ArrayBuffers while the work may still write). On completion the buffer becomes a
// new Float32Array (an external ArrayBuffer over it: no copy), or, when the caller gave `out`, it is copied
// into it if that is still attached and of the same length.
class OwnedOutput {
 public:
  // JavaScript thread. `given` undefined or null: a new array; otherwise a Float32Array of length n (checked by
  // the caller). Throws ERR_FFF_OUT_OF_MEMORY when the buffer cannot be allocated.
  void init(Napi::Env env, const Napi::Value& given, size_t n, const char* what);
  bool active() const { return buffer_ != nullptr; }
  float* data() const { return buffer_; }
  // JavaScript thread: the array holding the result. Throws ERR_FFF_INVALID_ARGUMENT when the caller's array
  // was detached or resized meanwhile.
  Napi::Value take(Napi::Env env);
  void abandon() { given_.SuppressDestruct(); }

 private:
  struct Free {
    void operator()(char* p) const;
  };
  std::unique_ptr<char, Free> block_;  // calloc'd (zeros, as a new Float32Array), a cache line more than needed
  float* buffer_ = nullptr;            // the first float in block_ on a cache line
  Napi::Reference<Napi::Float32Array> given_;
  size_t n_ = 0;
  const char* what_ = "out";
};

}  // namespace fffbert_napi
