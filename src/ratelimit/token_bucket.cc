#include "ratelimit/token_bucket.h"

#include <cmath>

namespace sluice::ratelimit {

TokenBucket::TokenBucket(RateSpec spec, const core::Clock& clock)
    : spec_(spec),
      interval_ns_(1e9 / spec.per_second),
      burst_ns_(std::llround(spec.burst * 1e9 / spec.per_second)),
      clock_(clock) {}

TokenBucket::Step TokenBucket::step(int64_t tat, int64_t now, double cost) const {
  const int64_t base = tat > now ? tat : now;
  const int64_t new_tat = base + std::llround(cost * interval_ns_);
  const int64_t allowed_at = new_tat - burst_ns_;
  return {new_tat, allowed_at > now ? allowed_at - now : 0};
}

int64_t TokenBucket::reserve(double cost) {
  const int64_t now = clock_.now_ns();
  int64_t tat = tat_.load(std::memory_order_relaxed);
  for (;;) {
    const Step s = step(tat, now, cost);
    if (tat_.compare_exchange_weak(tat, s.new_tat, std::memory_order_relaxed)) return s.wait_ns;
  }
}

}  // namespace sluice::ratelimit
