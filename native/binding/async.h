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
#include <cstdlib>
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
//
// A heap block a cache line longer than asked, and its first byte on a line. malloc / calloc and an offset, not
// posix_memalign / aligned_alloc: glibc serves a repeated large request of one size from its heap once the first is
// freed, but sends every aligned one to a fresh mmap whose page faults land on the JavaScript thread (a 2 MB input
// copy: ~1000 against ~400 us per forward(), Zen 4); and MSVC has no aligned_alloc. Frees with std::free.
class LineBlock {
 public:
  // `bytes` (zeroed when `zero`: calloc's large blocks are fresh zero pages, no memset); false when it cannot be had.
  bool allocate(size_t bytes, bool zero) {
    constexpr size_t kLine = fffbert::kCacheLine;
    block_.reset(bytes > SIZE_MAX - kLine ? nullptr
                 : zero                   ? static_cast<char*>(std::calloc(bytes + kLine, 1))
                                          : static_cast<char*>(std::malloc(bytes + kLine)));
    start_ = block_ ? fffbert::on_cache_line(block_.get()) : nullptr;
    return block_ != nullptr;
  }
  void reset() {
    block_.reset();
    start_ = nullptr;
  }
  char* start() const { return start_; }
  // The block itself (what std::free takes), and giving it up (to an ArrayBuffer's finalizer).
  char* block() const { return block_.get(); }
  void release() {
    start_ = nullptr;
    (void)block_.release();
  }

 private:
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> block_;
  char* start_ = nullptr;
};

// An input the job reads: copied at the call, so later writes, transfers or resizes of the caller's array
// cannot reach the work. The copy starts on a cache line. Throws std::bad_alloc when it cannot be allocated.
template <typename T>
class OwnedInput {
 public:
  void copy(const T* data, size_t n) {
    if (n == 0) {
      b_.reset();
      return;
    }
    if (n > SIZE_MAX / sizeof(T) || !b_.allocate(n * sizeof(T), false)) throw std::bad_alloc();
    std::memcpy(b_.start(), data, n * sizeof(T));
  }
  const T* data() const { return reinterpret_cast<const T*>(b_.start()); }
  T* data() { return reinterpret_cast<T*>(b_.start()); }

 private:
  LineBlock b_;
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
  bool active() const { return block_.start() != nullptr; }
  float* data() const { return reinterpret_cast<float*>(block_.start()); }
  // JavaScript thread: the array holding the result. Throws ERR_FFF_INVALID_ARGUMENT when the caller's array
  // was detached or resized meanwhile.
  Napi::Value take(Napi::Env env);
  void abandon() { given_.SuppressDestruct(); }

 private:
  LineBlock block_;  // zeroed, as a new Float32Array
  Napi::Reference<Napi::Float32Array> given_;
  size_t n_ = 0;
  const char* what_ = "out";
};

}  // namespace fffbert_napi
