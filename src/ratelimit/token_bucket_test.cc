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
  EXPECT_TRUE(b.try_take());
  EXPECT_TRUE(b.try_take());
  EXPECT_TRUE(b.try_take());
  EXPECT_FALSE(b.try_take());
  clock.advance(99ms);
  EXPECT_FALSE(b.try_take());
  clock.advance(1ms);
  EXPECT_TRUE(b.try_take());
  EXPECT_FALSE(b.try_take());
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

// try_take at random moments: never more than burst + rate * W in any window W,
// and over the long run the rate is met within 0.1%.
TEST(TokenBucket, BurstNeverExceededUnderRandomPolling) {
  core::ManualClock clock;
  const double rate = 1000, burst = 10;
  TokenBucket b({.per_second = rate, .burst = burst}, clock);
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int64_t> step_ns(1, 3'000'000);
  std::deque<int64_t> grants;
  const int64_t start = clock.now_ns();
  int64_t granted = 0;
  const int64_t window_ns = 50'000'000;  // 50 ms: burst + 50 tokens allowed
  for (int i = 0; i < 1'000'000; ++i) {
    clock.advance(core::Nanos(step_ns(rng)));
    while (b.try_take()) {
      ++granted;
      grants.push_back(clock.now_ns());
    }
    while (!grants.empty() && grants.front() <= clock.now_ns() - window_ns) grants.pop_front();
    ASSERT_LE(static_cast<double>(grants.size()), burst + rate * 0.05 + 1e-9) << "at poll " << i;
  }
  const double seconds = static_cast<double>(clock.now_ns() - start) / 1e9;
  EXPECT_NEAR(static_cast<double>(granted - 10) / seconds, rate, rate * 0.001);
}

TEST(TokenBucket, WeightedCostsTakeMoreTokens) {
  core::ManualClock clock;
  TokenBucket b({.per_second = 10, .burst = 5}, clock);
  EXPECT_TRUE(b.try_take(3));
  EXPECT_FALSE(b.try_take(3));
  EXPECT_TRUE(b.try_take(2));
  EXPECT_FALSE(b.try_take(1));
  clock.advance(300ms);
  EXPECT_TRUE(b.try_take(3));
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
  EXPECT_TRUE(k.try_take("+1"));
  EXPECT_FALSE(k.try_take("+1"));
  EXPECT_TRUE(k.try_take("+2"));
  EXPECT_FALSE(k.try_take("+2"));
  clock.advance(1s);
  EXPECT_TRUE(k.try_take("+1"));
  EXPECT_EQ(k.reserve("+3", 2), 1'000'000'000);
}

TEST(KeyedBuckets, IdleBucketsAreEvictedWithoutChangingBehaviour) {
  core::ManualClock clock;
  KeyedBuckets k({.per_second = 10, .burst = 1}, clock, 100);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(k.try_take("k" + std::to_string(i)));
  EXPECT_EQ(k.size(), 100u);
  clock.advance(1s);  // every bucket refilled
  EXPECT_TRUE(k.try_take("new"));
  EXPECT_EQ(k.size(), 1u);
  EXPECT_EQ(k.evictions_under_pressure(), 0u);
}

TEST(KeyedBuckets, MemoryStaysBoundedUnderPressure) {
  core::ManualClock clock;
  KeyedBuckets k({.per_second = 1, .burst = 1}, clock, 1000);
  for (int i = 0; i < 10'000; ++i) k.reserve("k" + std::to_string(i));
  EXPECT_LE(k.size(), 1000u);
  EXPECT_GT(k.evictions_under_pressure(), 0u);
}

}  // namespace
}  // namespace sluice::ratelimit
