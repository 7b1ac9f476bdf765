// The dispatcher threads and the per-context completion channel (async.h).
#include "async.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <thread>

#include "common.h"

namespace fffbert_napi {

namespace {

// Two callers of the compute pool: one forward's single-threaded stages (small attention, norms of short
// batches) overlap another's pooled ones; more would only oversubscribe the cores the pool already uses.
constexpr int kDispatchThreads = 2;

std::atomic<int64_t> g_in_flight{0};

// Process-wide FIFO of jobs; its threads never join (leaked, like the compute pool: nothing to tear down at
// process exit while a job may still run).
class Dispatcher {
 public:
  Dispatcher() {
    for (int i = 0; i < kDispatchThreads; ++i) std::thread([this] { loop(); }).detach();
  }
  void push(AsyncJob* job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(job);
    }
    cv_.notify_one();
  }

 private:
  void loop() {
    for (;;) {
      AsyncJob* job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return !queue_.empty(); });
        job = queue_.front();
        queue_.pop_front();
      }
      run_job(job);
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<AsyncJob*> queue_;
};

Dispatcher& dispatcher() {
  static Dispatcher* d = new Dispatcher();
  return *d;
}

}  // namespace

// One thread-safe function per context. `alive_` turns false in its finalizer (the context is going away);
// a dispatcher thread calls into it only under `mutex_` while alive, so no call can reach a freed function.
class CompletionChannel {
 public:
  static std::shared_ptr<CompletionChannel> create(Napi::Env env) {
    auto ch = std::make_shared<CompletionChannel>();
    napi_value name;
    napi_create_string_utf8(env, "fffbert.forward", NAPI_AUTO_LENGTH, &name);
    auto* hold = new std::shared_ptr<CompletionChannel>(ch);
    if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, hold, finalize, ch.get(), call_js,
                                        &ch->tsfn_) != napi_ok) {
      delete hold;
      throw_error(env, code::kInternal, "Could not create the completion channel for async calls");
    }
    // Idle: keeps no event loop alive. Referenced while forwards are pending.
    napi_unref_threadsafe_function(env, ch->tsfn_);
    return ch;
  }

  // JavaScript thread, at submit.
  void started(napi_env env) {
    if (pending_++ == 0) napi_ref_threadsafe_function(env, tsfn_);
  }

  // Dispatcher thread: hands the job to its context, or frees it when the context is gone.
  void deliver(AsyncJob* job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (alive_ && napi_call_threadsafe_function(tsfn_, job, napi_tsfn_nonblocking) == napi_ok) return;
    }
    job->abandon();
    delete job;
  }

 private:
  static void finalize(napi_env, void* data, void*) {
    auto* hold = static_cast<std::shared_ptr<CompletionChannel>*>(data);
    {
      std::lock_guard<std::mutex> lock((*hold)->mutex_);
      (*hold)->alive_ = false;
    }
    delete hold;
  }

  // JavaScript thread; env is null when the context is torn down with this job still queued.
  static void call_js(napi_env env, napi_value, void* context, void* data) {
    std::unique_ptr<AsyncJob> job(static_cast<AsyncJob*>(data));
    if (env == nullptr) {
      job->abandon();
      return;
    }
    auto* self = static_cast<CompletionChannel*>(context);
    if (--self->pending_ == 0) napi_unref_threadsafe_function(env, self->tsfn_);
    settle(env, *job);
  }

  // Raw Node-API with every status ignored: during teardown a resolve can fail, and nothing may throw out of
  // here (an exception escaping a completion callback aborts the process).
  static void settle(napi_env env, AsyncJob& job) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) {
      job.abandon();
      return;
    }
    napi_value value = nullptr;
    bool ok = false;
    try {
      Napi::Env e(env);
      if (job.error_code_) {
        value = make_error(e, job.error_code_, job.error_message_).Value();
      } else {
        value = job.result(e);
        ok = true;
      }
    } catch (const Napi::Error& err) {
      value = err.Value();
      ok = false;
    } catch (...) { value = nullptr; }
    if (value) {
      if (ok)
        napi_resolve_deferred(env, job.deferred_, value);
      else
        napi_reject_deferred(env, job.deferred_, value);
    }
    napi_close_handle_scope(env, scope);
  }

  std::mutex mutex_;
  bool alive_ = true;                        // under mutex_
  napi_threadsafe_function tsfn_ = nullptr;  // set once in create()
  int64_t pending_ = 0;                      // JavaScript thread only
};

void run_job(AsyncJob* job) {
  try {
    job->run();
  } catch (const std::bad_alloc&) {
    job->fail(code::kOutOfMemory, "Out of memory for the activations");
  } catch (const std::exception& e) { job->fail(code::kInternal, e.what()); }
  g_in_flight.fetch_sub(1, std::memory_order_relaxed);
  std::shared_ptr<CompletionChannel> channel = job->channel_;
  channel->deliver(job);
}

Napi::Value submit(Napi::Env env, std::unique_ptr<AsyncJob> job) {
  AddonData* data = env.GetInstanceData<AddonData>();
  napi_value promise;
  if (napi_create_promise(env, &job->deferred_, &promise) != napi_ok) {
    throw_error(env, code::kInternal, "Could not create a promise");
  }
  job->channel_ = data->async.channel;
  job->channel_->started(env);
  g_in_flight.fetch_add(1, std::memory_order_relaxed);
  dispatcher().push(job.release());
  return Napi::Value(env, promise);
}

int64_t jobs_in_flight() { return g_in_flight.load(std::memory_order_relaxed); }

void init_async(Napi::Env env, AsyncContext* ctx) { ctx->channel = CompletionChannel::create(env); }

void OwnedOutput::init(Napi::Env env, const Napi::Value& given, size_t n, const char* what) {
  n_ = n;
  what_ = what;
  if (n > SIZE_MAX / sizeof(float) || !block_.allocate(n * sizeof(float), true)) {
    throw_error(env, code::kOutOfMemory,
                std::string("Out of memory for ") + what + " (" + std::to_string(n) + " floats)");
  }
  if (!given.IsUndefined() && !given.IsNull()) given_ = Napi::Persistent(given.As<Napi::Float32Array>());
}

Napi::Value OwnedOutput::take(Napi::Env env) {
  if (!given_.IsEmpty()) {
    Napi::Float32Array a = given_.Value();
    if (a.ElementLength() != n_ || a.Data() == nullptr) {
      throw_error(env, code::kInvalidArgument,
                  std::string("Expected ") + what_ + " to keep its length " + std::to_string(n_) +
                      " until forward() completed, but it was detached or resized (length now " +
                      std::to_string(a.ElementLength()) + ")");
    }
    std::memcpy(a.Data(), data(), n_ * sizeof(float));
    return a;
  }
  napi_value ab;
  // The ArrayBuffer spans the aligned floats; its finalizer frees the whole block (the hint).
  float* p = data();
  const napi_status st = napi_create_external_arraybuffer(
      env, p, n_ * sizeof(float), [](napi_env, void*, void* block) { std::free(block); }, block_.block(), &ab);
  if (st == napi_ok) {
    block_.release();  // the ArrayBuffer's finalizer frees it
    return Napi::Float32Array::New(env, n_, Napi::ArrayBuffer(env, ab), 0);
  }
  // Runtimes without external buffers (napi_no_external_buffers_allowed): one copy.
  Napi::Float32Array a = Napi::Float32Array::New(env, n_);
  std::memcpy(a.Data(), p, n_ * sizeof(float));
  return a;
}

}  // namespace fffbert_napi
