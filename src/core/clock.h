#pragma once
// The time source of everything that waits or expires: rate limiters,
// queue leases, output retries and batching periods. Components get it from
// BuildContext::clock(), so tests drive time by hand (ManualClock) instead
// of sleeping; waits on it go through runtime/sleep.h.
//
// Threads: SteadyClock is stateless; ManualClock is safe to read from any
// thread while one test thread advances it.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace sluice::core {

using Nanos = std::chrono::nanoseconds;

// Wall-clock milliseconds since the Unix epoch, for records people read
// (enqueue times, callback times); never for measuring intervals.
inline int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic nanoseconds since an arbitrary epoch.
  virtual int64_t now_ns() const = 0;
  // How long a waiter may sleep on real time before it reads this clock
  // again: as long as it likes on the real clock, briefly on one a test
  // advances by hand.
  virtual Nanos poll_interval() const { return Nanos::max(); }
};

class SteadyClock final : public Clock {
 public:
  int64_t now_ns() const override {
    return std::chrono::duration_cast<Nanos>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  static const SteadyClock& instance() {
    static const SteadyClock clock;
    return clock;
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ns = 1'000'000'000) : now_(start_ns) {}
  int64_t now_ns() const override { return now_.load(std::memory_order_relaxed); }
  Nanos poll_interval() const override { return std::chrono::milliseconds(1); }
  void advance(Nanos d) { now_.fetch_add(d.count(), std::memory_order_relaxed); }
  void set(int64_t ns) { now_.store(ns, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace sluice::core
