#include "ledger/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace sluice::ledger {
namespace {

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (int64_t v : {0, 1, 5, 127, 127}) h.record(v);
  EXPECT_EQ(h.count(), 5);
  EXPECT_EQ(h.percentile(0.2), 0);
  EXPECT_EQ(h.percentile(0.6), 5);
  EXPECT_EQ(h.percentile(1.0), 127);
}

TEST(Histogram, EveryBucketHoldsItsLowestValueAndNoOther) {
  for (int64_t v = 0; v < 5'000'000; v = v < 1000 ? v + 1 : v + v / 97) {
    const int32_t b = Histogram::bucket_of(v);
    const int64_t low = Histogram::lowest_of(b);
    ASSERT_LE(low, v);
    ASSERT_GE(static_cast<double>(low), static_cast<double>(v) * (1 - 1.0 / 128)) << v;
    ASSERT_EQ(Histogram::bucket_of(low), b) << v;
  }
}

// Against the exact nearest-rank percentile of the raw values.
TEST(Histogram, PercentilesWithinOnePercentOfExact) {
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> dist(6.5, 1.2);  // ms, a long tail like delivery times
  std::vector<int64_t> raw;
  Histogram h;
  for (int i = 0; i < 100'000; ++i) {
    const auto v = static_cast<int64_t>(dist(rng));
    raw.push_back(v);
    h.record(v);
  }
  std::sort(raw.begin(), raw.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const int64_t exact = raw[static_cast<size_t>(std::ceil(q * static_cast<double>(raw.size()))) - 1];
    const int64_t got = h.percentile(q);
    EXPECT_LE(got, exact) << q;
    EXPECT_GE(static_cast<double>(got), static_cast<double>(exact) * 0.99) << q;
  }
}

TEST(Histogram, MergingEqualsRecordingEverythingInOne) {
  Histogram a, b, all;
  for (int64_t v = 0; v < 20'000; v += 7) (v % 2 ? a : b).record(v), all.record(v);
  a.merge(b);
  EXPECT_EQ(a, all);
  Histogram copy;
  for (const auto& [bucket, n] : all.buckets()) copy.add_bucket(bucket, n);
  EXPECT_EQ(copy, all) << "a store's (bucket, count) pairs rebuild the histogram";
}

}  // namespace
}  // namespace sluice::ledger
