#pragma once
// A mergeable histogram of durations in milliseconds, HDR-style: values
// below 128 ms are counted exactly; above, each power of two is split into
// 128 buckets, so a reported value is at most 0.8% below the true one. Its
// memory is bounded (a few KiB per alert, however many messages), two
// histograms merge by adding counts, and a store keeps it as (bucket, count)
// pairs, so a shared store can hold per-instance histograms and merge them.
//
// Threads: not thread-safe; the owner locks.

#include <cstdint>
#include <map>

namespace sluice::ledger {

class Histogram {
 public:
  void record(int64_t ms, int64_t count = 1);
  void merge(const Histogram& other);
  int64_t count() const { return total_; }
  // Nearest-rank percentile (q in (0, 1]): the lowest value of the bucket
  // holding that rank; 0 when empty.
  int64_t percentile(double q) const;

  // Bucket index -> count, for stores.
  const std::map<int32_t, int64_t>& buckets() const { return buckets_; }
  void add_bucket(int32_t index, int64_t count);
  static int32_t bucket_of(int64_t ms);
  static int64_t lowest_of(int32_t bucket);

  bool operator==(const Histogram&) const = default;

 private:
  std::map<int32_t, int64_t> buckets_;
  int64_t total_ = 0;
};

}  // namespace sluice::ledger
