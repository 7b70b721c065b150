#pragma once
// Token bucket as GCRA (generic cell rate algorithm): the whole state is one
// "theoretical arrival time" (TAT), updated with a compare-and-swap, so an
// uncontended take costs a few nanoseconds and never locks.
//
// reserve() always takes the tokens and says how long the caller must wait
// before acting on them: callers queue in arrival order and nobody spins.
//
// Guarantee: over any window of length W, at most burst + rate * W tokens
// are granted (burst is the bucket's capacity).
// Threads: any thread; lock-free.

#include <atomic>
#include <cstdint>

#include "core/clock.h"

namespace sluice::ratelimit {

struct RateSpec {
  double per_second = 0;  // tokens added per second
  double burst = 1;       // bucket capacity, >= 1
};

class TokenBucket {
 public:
  TokenBucket(RateSpec spec, const core::Clock& clock);

  // Takes `cost` tokens; returns nanoseconds to wait before using them.
  int64_t reserve(double cost = 1);
  const RateSpec& spec() const { return spec_; }

  // The pure state transition, shared with KeyedBuckets. Given the current
  // TAT, returns the new TAT and the wait.
  struct Step {
    int64_t new_tat;
    int64_t wait_ns;
  };
  Step step(int64_t tat, int64_t now, double cost) const;

 private:
  RateSpec spec_;
  double interval_ns_;  // nanoseconds per token
  int64_t burst_ns_;    // burst expressed as time
  const core::Clock& clock_;
  std::atomic<int64_t> tat_{0};
};

}  // namespace sluice::ratelimit
