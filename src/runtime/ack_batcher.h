#pragma once
// AckBatcher: turns per-message acknowledgements into a few grouped calls
// to the source (one commit of row deletes, one DeleteMessageBatch, one
// multiple-ack, one pipelined round of LREMs).
//
// An input gives each message `batcher.handle(token)` (token: a row id, a
// receipt handle, a delivery tag). When the message's last holder resolves,
// its token lands in the batcher, grouped by status. The input runs
// `run()` from its own coroutine (spawned in Input::start); it calls the
// flush function with everything pending once `max_size` tokens are pending
// or the oldest has waited `max_age`. Input::drain() calls `drain()`, which
// flushes what is left and ends run().
//
// Threads: the ack callbacks run on any thread and only lock and append: no
// I/O, no executor, so they are safe while the io_context is stopping or
// destroying the coroutines that hold messages. run(), drain() and the flush
// function run on the input's coroutines, one flush at a time. Tokens that
// arrive after drain() stay pending; take() hands them over synchronously
// (an input's destructor), or they are redelivered by the source.

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/ack.h"
#include "core/clock.h"
#include "runtime/task.h"

namespace sluice::runtime {

// The age bound's timer. Owned by the batcher (not by a coroutine frame or
// the shared state), so it is destroyed with the input, while its
// io_context's services still exist.
class AgeTimer {
 public:
  explicit AgeTimer(boost::asio::io_context& io);
  ~AgeTimer();
  void start(core::Nanos after, std::function<void()> fired);
  void cancel();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The flusher's wake-up, shared with the ack callbacks. Not for use on its own.
class FlushSignal {
 public:
  FlushSignal();
  // From any thread, after tokens were added; `full`: the size bound is reached.
  void notify(bool full);
  // Ends wait() for good; returns whether run() has begun waiting.
  bool stop();
  // Returns once something is pending and then the size bound is reached,
  // `max_age` passed (on `timer`), or stop() was called. False once stopped.
  Task<bool> wait(core::Nanos max_age, AgeTimer& timer);
  // run()'s exit; drain() awaits it.
  void finished();
  Task<void> wait_finished();

 private:
  struct State;
  std::shared_ptr<State> s_;
};

template <class Token>
class AckBatcher {
 public:
  struct Groups {
    std::vector<Token> delivered, errored, rejected;
    size_t size() const { return delivered.size() + errored.size() + rejected.size(); }
    bool empty() const { return size() == 0; }
  };
  using Flush = std::function<Task<void>(Groups)>;

  AckBatcher(boost::asio::io_context& io, size_t max_size, core::Nanos max_age, Flush flush)
      : shared_(std::make_shared<Shared>()),
        timer_(io),
        max_size_(max_size),
        max_age_(max_age),
        flush_(std::move(flush)) {}

  // A fresh ack whose final status sends `token` here.
  core::AckHandle handle(Token token) {
    std::weak_ptr<Shared> weak = shared_;
    const size_t max = max_size_;
    return core::AckHandle::make([weak, token = std::move(token), max](core::AckStatus status) mutable {
      if (auto s = weak.lock()) s->add(std::move(token), status, max);
    });
  }

  Task<void> run() {
    for (;;) {
      const bool more = co_await shared_->signal.wait(max_age_, timer_);
      Groups g = take();
      if (!g.empty()) co_await flush_(std::move(g));
      if (!more) break;
    }
    shared_->signal.finished();
  }

  Task<void> drain() {
    if (shared_->signal.stop()) {
      co_await shared_->signal.wait_finished();
      co_return;
    }
    Groups g = take();  // run() never started: flush here
    if (!g.empty()) co_await flush_(std::move(g));
  }

  Groups take() {
    std::lock_guard lock(shared_->mu);
    return std::exchange(shared_->pending, Groups{});
  }
  size_t pending() const {
    std::lock_guard lock(shared_->mu);
    return shared_->pending.size();
  }

 private:
  struct Shared {
    std::mutex mu;
    Groups pending;
    FlushSignal signal;
    void add(Token token, core::AckStatus status, size_t max) {
      size_t n;
      {
        std::lock_guard lock(mu);
        auto& group = status == core::AckStatus::delivered ? pending.delivered
                      : status == core::AckStatus::errored ? pending.errored
                                                           : pending.rejected;
        group.push_back(std::move(token));
        n = pending.size();
      }
      signal.notify(n >= max);
    }
  };
  std::shared_ptr<Shared> shared_;
  AgeTimer timer_;
  size_t max_size_;
  core::Nanos max_age_;
  Flush flush_;
};

}  // namespace sluice::runtime
