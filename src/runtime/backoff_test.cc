#include "runtime/backoff.h"

#include <gtest/gtest.h>

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;

TEST(Backoff, FullJitterStaysUnderTheDoublingCap) {
  std::mt19937_64 rng(1);
  BackoffPolicy p{100ms, 1s};
  for (int retry = 0; retry < 10; ++retry) {
    const auto cap = std::min<std::chrono::nanoseconds>(100ms * (1 << retry), 1s);
    std::chrono::nanoseconds lo = cap, hi{0};
    for (int i = 0; i < 2000; ++i) {
      auto d = backoff_delay(p, retry, 0ns, rng);
      ASSERT_GE(d, 0ns);
      ASSERT_LE(d, cap);
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    // Jitter really spreads over the whole range.
    EXPECT_LT(lo, cap / 10) << "retry " << retry;
    EXPECT_GT(hi, cap * 9 / 10) << "retry " << retry;
  }
}

TEST(Backoff, RetryAfterHintIsAFloor) {
  std::mt19937_64 rng(2);
  for (int i = 0; i < 100; ++i) EXPECT_GE(backoff_delay({10ms, 50ms}, 0, 2s, rng), 2s);
}

TEST(Backoff, HugeRetryCountDoesNotOverflow) {
  std::mt19937_64 rng(3);
  EXPECT_LE(backoff_delay({200ms, 30s}, 10'000, 0ns, rng), 30s);
}

}  // namespace
}  // namespace sluice::runtime
