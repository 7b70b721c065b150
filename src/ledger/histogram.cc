#include "ledger/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sluice::ledger {

namespace {
constexpr int kSubBits = 7;  // 128 sub-buckets per power of two
constexpr int64_t kSub = int64_t{1} << kSubBits;
}  // namespace

int32_t Histogram::bucket_of(int64_t ms) {
  if (ms < kSub) return static_cast<int32_t>(std::max<int64_t>(ms, 0));
  const int shift = std::bit_width(static_cast<uint64_t>(ms)) - (kSubBits + 1);  // ms >> shift in [128, 256)
  return static_cast<int32_t>(kSub * (shift + 1) + ((ms >> shift) - kSub));
}

int64_t Histogram::lowest_of(int32_t bucket) {
  if (bucket < kSub) return bucket;
  const int shift = bucket / kSub - 1;
  return (kSub + bucket % kSub) << shift;
}

void Histogram::record(int64_t ms, int64_t count) { add_bucket(bucket_of(ms), count); }

void Histogram::add_bucket(int32_t index, int64_t count) {
  if (count == 0) return;
  buckets_[index] += count;
  total_ += count;
}

void Histogram::merge(const Histogram& other) {
  for (const auto& [b, n] : other.buckets_) add_bucket(b, n);
}

int64_t Histogram::percentile(double q) const {
  if (total_ == 0) return 0;
  const auto rank = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(q * static_cast<double>(total_))), 1, total_);
  int64_t seen = 0;
  for (const auto& [b, n] : buckets_) {
    seen += n;
    if (seen >= rank) return lowest_of(b);
  }
  return lowest_of(buckets_.rbegin()->first);
}

}  // namespace sluice::ledger
