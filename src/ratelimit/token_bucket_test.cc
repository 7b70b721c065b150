#include "ratelimit/token_bucket.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>

#include "ratelimit/keyed_buckets.h"

namespace sluice::ratelimit {
namespace {

using namespace std::chrono_literals;

TEST(TokenBucket, BurstIsAvailableAtOnceThenRateApplies) {
  core::ManualClock clock;
  TokenBucket b({.per_second = 10, .burst = 3}, clock);
  EXPECT_EQ(b.reserve(), 0);
  EXPECT_EQ(b.reserve(), 0);
  EXPECT_EQ(b.reserve(), 0);
  EXPECT_EQ(b.reserve(), 100'000'000);  // the fourth waits one token's time
  clock.advance(99ms);
  EXPECT_EQ(b.reserve(), 101'000'000);  // the fifth queues behind it
  clock.advance(201ms);
  EXPECT_EQ(b.reserve(), 0);
}

// The bar: the rate holds within 0.1% over a million takes.
TEST(TokenBucket, ReservedRateHoldsOverAMillionTakes) {
  core::ManualClock clock;
  const double rate = 200, burst = 20;
  TokenBucket b({.per_second = rate, .burst = burst}, clock);
  const int64_t start = clock.now_ns();
  const int takes = 1'000'000;
  for (int i = 0; i < takes; ++i) {
    // A caller waits exactly as long as it is told, then uses its token.
    clock.advance(core::Nanos(b.reserve()));
  }
  const double seconds = static_cast<double>(clock.now_ns() - start) / 1e9;
  const double achieved = (takes - burst) / seconds;
  EXPECT_NEAR(achieved, rate, rate * 0.001) << "seconds=" << seconds;
}

// Callers reserve at random moments, faster than the rate, and use their
// tokens when told: never more than burst + rate * W used in any window W,
// and over the long run the rate is met within 0.1%.
TEST(TokenBucket, BurstNeverExceededUnderRandomDemand) {
  core::ManualClock clock;
  const double rate = 1000, burst = 10;
  TokenBucket b({.per_second = rate, .burst = burst}, clock);
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int64_t> step_ns(1, 1'000'000);  // 2,000 callers/s on average
  std::deque<int64_t> used;  // when each token is used, in order
  const int64_t start = clock.now_ns();
  const int64_t window_ns = 50'000'000;  // 50 ms: burst + 50 tokens allowed
  int64_t last_use = start;
  const int takes = 1'000'000;
  for (int i = 0; i < takes; ++i) {
    clock.advance(core::Nanos(step_ns(rng)));
    last_use = clock.now_ns() + b.reserve();
    used.push_back(last_use);
    while (used.front() <= last_use - window_ns) used.pop_front();
    ASSERT_LE(static_cast<double>(used.size()), burst + rate * 0.05 + 1e-9) << "at take " << i;
  }
  const double seconds = static_cast<double>(last_use - start) / 1e9;
  EXPECT_NEAR((takes - burst) / seconds, rate, rate * 0.001);
}

TEST(TokenBucket, WeightedCostsTakeMoreTokens) {
  core::ManualClock clock;
  TokenBucket b({.per_second = 10, .burst = 5}, clock);
  EXPECT_EQ(b.reserve(3), 0);
  EXPECT_EQ(b.reserve(2), 0);            // the rest of the burst
  EXPECT_EQ(b.reserve(1), 100'000'000);  // one token's time
  clock.advance(400ms);
  EXPECT_EQ(b.reserve(3), 0);
  // A cost above the burst is still granted, after the time it needs: the
  // bucket is empty (TAT = now + 500ms) and 8 tokens add 800ms, of which the
  // burst (500ms) may be used early.
  EXPECT_EQ(b.reserve(8), 800'000'000);
}

TEST(TokenBucket, ReserveQueuesCallersInOrder) {
  core::ManualClock clock;
  TokenBucket b({.per_second = 100, .burst = 1}, clock);
  EXPECT_EQ(b.reserve(), 0);
  EXPECT_EQ(b.reserve(), 10'000'000);
  EXPECT_EQ(b.reserve(), 20'000'000);
  clock.advance(30ms);
  EXPECT_EQ(b.reserve(), 0);
}

TEST(KeyedBuckets, KeysAreIsolated) {
  core::ManualClock clock;
  KeyedBuckets k({.per_second = 1, .burst = 1}, clock);
  EXPECT_EQ(k.reserve("+1"), 0);
  EXPECT_EQ(k.reserve("+2"), 0);  // +1's use leaves +2 whole
  EXPECT_EQ(k.reserve("+1"), 1'000'000'000);
  EXPECT_EQ(k.reserve("+3", 2), 1'000'000'000);
}

TEST(KeyedBuckets, IdleBucketsAreEvictedWithoutChangingBehaviour) {
  core::ManualClock clock;
  KeyedBuckets k({.per_second = 10, .burst = 1}, clock, 100);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(k.reserve("k" + std::to_string(i)), 0);
  EXPECT_EQ(k.size(), 100u);
  clock.advance(1s);  // every bucket refilled
  EXPECT_EQ(k.reserve("new"), 0);
  EXPECT_EQ(k.size(), 1u);
  EXPECT_EQ(k.reserve("k0"), 0) << "an evicted bucket was full anyway";
}

TEST(KeyedBuckets, MemoryStaysBoundedUnderPressure) {
  core::ManualClock clock;
  KeyedBuckets k({.per_second = 1, .burst = 1}, clock, 1000);
  for (int i = 0; i < 10'000; ++i) k.reserve("k" + std::to_string(i));
  EXPECT_LE(k.size(), 1000u);
  EXPECT_GT(k.size(), 0u);
}

}  // namespace
}  // namespace sluice::ratelimit
