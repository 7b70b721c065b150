#pragma once
// One token bucket per key (e.g. per sender number), all with the same rate.
//
// Memory is bounded by max_keys. A bucket that has refilled completely is
// indistinguishable from a new one, so evicting it changes nothing; those go
// first. Only if every bucket is still refilling and the map is full are the
// fullest ones evicted, which can grant a little early (a sender among
// max_keys busy ones may get its burst again).
// Threads: any thread; one mutex guards the map.

#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "ratelimit/token_bucket.h"

namespace sluice::ratelimit {

class KeyedBuckets {
 public:
  KeyedBuckets(RateSpec spec, const core::Clock& clock, size_t max_keys = 100'000);

  int64_t reserve(std::string_view key, double cost = 1);
  size_t size() const;

 private:
  void evict_locked(int64_t now);

  TokenBucket rule_;  // used only for its step() arithmetic
  const core::Clock& clock_;
  size_t max_keys_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, int64_t> tat_;
};

}  // namespace sluice::ratelimit
