#include "runtime/backoff.h"

#include <algorithm>

namespace sluice::runtime {

std::chrono::nanoseconds backoff_delay(const BackoffPolicy& p, int retry, std::chrono::nanoseconds retry_after,
                                       std::mt19937_64& rng) {
  const int64_t initial = std::max<int64_t>(p.initial.count(), 0);
  const int64_t max = std::max<int64_t>(p.max.count(), initial);
  int64_t cap = initial;
  for (int i = 0; i < retry && cap < max; ++i) cap *= 2;
  cap = std::min(cap, max);
  std::uniform_int_distribution<int64_t> dist(0, cap);
  const int64_t jittered = cap > 0 ? dist(rng) : 0;
  return std::chrono::nanoseconds(std::max(jittered, retry_after.count()));
}

}  // namespace sluice::runtime
