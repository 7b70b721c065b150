#pragma once
// Time source for the rate limiters (token buckets, keyed buckets), so their
// tests drive time by hand (ManualClock) instead of sleeping. Queue leases,
// output retries and batching still read std::chrono::steady_clock.
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
  void advance(Nanos d) { now_.fetch_add(d.count(), std::memory_order_relaxed); }
  void set(int64_t ns) { now_.store(ns, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace sluice::core
