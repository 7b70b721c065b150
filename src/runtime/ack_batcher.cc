#include "runtime/ack_batcher.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "async/blocking.h"

namespace sluice::runtime {

struct AgeTimer::Impl {
  explicit Impl(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;
};

AgeTimer::AgeTimer(boost::asio::io_context& io) : impl_(std::make_unique<Impl>(io)) {}
AgeTimer::~AgeTimer() = default;

void AgeTimer::start(core::Nanos after, std::function<void()> fired) {
  impl_->timer.expires_after(after);
  impl_->timer.async_wait([fired = std::move(fired)](boost::system::error_code ec) {
    if (!ec) fired();
  });
}

void AgeTimer::cancel() { impl_->timer.cancel(); }

// What the flusher waits for. `phase` says which condition wakes it:
// 1 = anything pending, 2 = full, aged or stopped.
struct FlushSignal::State {
  using Wake = std::function<void(bool)>;
  std::mutex mu;
  bool pending = false, full = false, aged = false, stopped = false;
  bool running = false, done = false;
  int phase = 0;
  Wake wake;
  std::function<void(bool)> on_finished;

  // Caller holds mu: the parked waiter, if its condition now holds.
  Wake take_wake_if_ready() {
    const bool ready = phase == 1 ? (pending || stopped) : phase == 2 ? (full || aged || stopped) : false;
    if (!ready) return {};
    phase = 0;
    return std::exchange(wake, {});
  }
};

FlushSignal::FlushSignal() : s_(std::make_shared<State>()) {}

void FlushSignal::notify(bool full) {
  State::Wake w;
  {
    std::lock_guard lock(s_->mu);
    s_->pending = true;
    if (full) s_->full = true;
    w = s_->take_wake_if_ready();
  }
  if (w) w(true);
}

bool FlushSignal::stop() {
  State::Wake w;
  bool running;
  {
    std::lock_guard lock(s_->mu);
    s_->stopped = true;
    running = s_->running;
    w = s_->take_wake_if_ready();
  }
  if (w) w(true);
  return running;
}

Task<bool> FlushSignal::wait(core::Nanos max_age, AgeTimer& timer) {
  auto s = s_;
  auto park = [s](int phase) {
    return [s, phase](State::Wake done) {
      std::unique_lock lock(s->mu);
      s->running = true;
      s->phase = phase;
      s->wake = std::move(done);
      if (auto w = s->take_wake_if_ready()) {
        lock.unlock();
        w(true);
      }
    };
  };
  auto first = park(1);
  co_await async::await_callback<bool>(std::move(first));  // named: see async/blocking.h
  bool need_age;
  {
    std::lock_guard lock(s->mu);
    s->aged = false;
    need_age = !s->full && !s->stopped;
  }
  if (need_age) {
    timer.start(max_age, [s] {
      State::Wake w;
      {
        std::lock_guard lock(s->mu);
        s->aged = true;
        w = s->take_wake_if_ready();
      }
      if (w) w(true);
    });
    auto second = park(2);
    co_await async::await_callback<bool>(std::move(second));
    timer.cancel();
  }
  std::lock_guard lock(s->mu);
  s->pending = s->full = s->aged = false;
  co_return !s->stopped;
}

void FlushSignal::finished() {
  std::function<void(bool)> w;
  {
    std::lock_guard lock(s_->mu);
    s_->done = true;
    s_->running = false;
    w = std::exchange(s_->on_finished, {});
  }
  if (w) w(true);
}

Task<void> FlushSignal::wait_finished() {
  auto s = s_;
  auto park = [s](std::function<void(bool)> done) {
    std::unique_lock lock(s->mu);
    if (!s->done) {
      s->on_finished = std::move(done);
      return;
    }
    lock.unlock();
    done(true);
  };
  co_await async::await_callback<bool>(std::move(park));
}

}  // namespace sluice::runtime
