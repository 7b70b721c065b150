#include "ratelimit/keyed_buckets.h"

#include <algorithm>
#include <vector>

namespace sluice::ratelimit {

KeyedBuckets::KeyedBuckets(RateSpec spec, const core::Clock& clock, size_t max_keys)
    : rule_(spec, clock), clock_(clock), max_keys_(std::max<size_t>(max_keys, 1)) {}

int64_t KeyedBuckets::reserve(std::string_view key, double cost) {
  const int64_t now = clock_.now_ns();
  std::lock_guard lock(mu_);
  auto it = tat_.find(std::string(key));
  if (it == tat_.end()) {
    if (tat_.size() >= max_keys_) evict_locked(now);
    it = tat_.emplace(std::string(key), 0).first;
  }
  const auto s = rule_.step(it->second, now, cost);
  it->second = s.new_tat;
  return s.wait_ns;
}

void KeyedBuckets::evict_locked(int64_t now) {
  std::erase_if(tat_, [now](const auto& kv) { return kv.second <= now; });
  if (tat_.size() < max_keys_) return;
  // Every bucket is still refilling: drop the fullest quarter.
  std::vector<std::pair<int64_t, std::string>> by_tat;
  by_tat.reserve(tat_.size());
  for (const auto& [k, t] : tat_) by_tat.emplace_back(t, k);
  const size_t drop = std::max<size_t>(1, by_tat.size() / 4);
  std::nth_element(by_tat.begin(), by_tat.begin() + static_cast<long>(drop) - 1, by_tat.end());
  for (size_t i = 0; i < drop; ++i) tat_.erase(by_tat[i].second);
}

size_t KeyedBuckets::size() const {
  std::lock_guard lock(mu_);
  return tat_.size();
}

}  // namespace sluice::ratelimit
