#pragma once
// Adaptive concurrency for an output (`concurrency: adaptive`): how many
// writes may be under way at once, found by AIMD between 1 and max_in_flight
// the way Vector's adaptive request concurrency and Netflix's
// concurrency-limits do.
//
// Writes are grouped into windows about one round-trip long. At the end of
// a window the limit
//   - shrinks by decrease_ratio if any write in it was refused as overload
//     (429, 503, a timeout, a provider's queue-full code), or if the
//     window's mean round-trip rose above the long-run mean by more than
//     rtt_deviation_scale mean deviations (queues are building up);
//   - grows by one if the limit was reached in the window (more
//     concurrency could have been used), neither happened, and the mean
//     round-trip is not above the long-run mean.
// An overload answer ends the window at once, at most once per round-trip.
//
// The limiter hands out permits as counts, so the caller can keep them in
// any semaphore: start() returns the permits to issue at first, finish()
// how many to issue back after a write (0 while the limit is shrinking).
//
// Threads: every method is safe from any thread (one mutex; called once
// per write, which costs far more).

#include <cstddef>
#include <cstdint>
#include <mutex>

#include "core/clock.h"

namespace sluice::runtime {

struct AdaptiveConcurrencyOptions {
  size_t max = 64;  // the output's max_in_flight
  size_t initial = 1;
  double decrease_ratio = 0.9;
  double ewma_alpha = 0.4;
  double rtt_deviation_scale = 2.5;
};

class AdaptiveConcurrency {
 public:
  explicit AdaptiveConcurrency(AdaptiveConcurrencyOptions options);

  // Permits to issue before the first write: the initial limit.
  size_t start();
  // A write took a permit.
  void began();
  // A write ended at `now_ns` after `rtt`; `overloaded`: the peer refused it
  // as overload. Returns the permits to issue back (0, 1 or 2).
  size_t finished(int64_t now_ns, core::Nanos rtt, bool overloaded);

  size_t limit() const;

 private:
  void end_window(int64_t now_ns);

  const AdaptiveConcurrencyOptions options_;
  mutable std::mutex mu_;
  size_t limit_;
  size_t issued_ = 0;  // permits handed out and not yet returned, in use or waiting
  size_t in_use_ = 0;
  // The current window.
  int64_t window_start_ns_ = -1;
  double window_rtt_sum_ = 0;
  size_t window_writes_ = 0;
  bool window_overloaded_ = false;
  bool window_saturated_ = false;
  int64_t last_decrease_ns_ = INT64_MIN / 2;
  // Long-run round-trip: exponentially weighted mean and mean deviation, ns.
  double mean_rtt_ = 0;
  double rtt_deviation_ = 0;
};

}  // namespace sluice::runtime
