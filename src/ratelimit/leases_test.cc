#include "ratelimit/leases.h"

#include <gtest/gtest.h>

namespace sluice::ratelimit {
namespace {

constexpr double kMs = 1e6;

TEST(Leases, TokensAreUsedAtTheirSlotsNeverEarlier) {
  Leases l(10 * kMs, 30 * kMs);  // 100/s, burst 3
  l.add(0, 5);                  // slots 0, 10, 20, 30, 40 ms
  EXPECT_EQ(l.take(1, 0), 0);
  EXPECT_EQ(l.take(1, 0), 10 * kMs);
  EXPECT_EQ(l.take(2, 0), 30 * kMs) << "a take of two waits for the slot of its second";
  EXPECT_EQ(l.take(2, 0), std::nullopt) << "one token left";
  EXPECT_EQ(l.take(1, 0), 40 * kMs);
  EXPECT_EQ(l.available(0), 0);
}

TEST(Leases, ATakeSpansBlocksAndOthersSlotsBetweenThemAreSkipped) {
  Leases l(10 * kMs, 0);
  l.add(0, 2);           // 0, 10
  l.add(50 * kMs, 2);    // 50, 60: another process leased 20..40
  EXPECT_EQ(l.take(3, 0), 50 * kMs);
  EXPECT_EQ(l.take(1, 0), 60 * kMs);
}

TEST(Leases, TokensOlderThanTheBurstExpire) {
  Leases l(10 * kMs, 30 * kMs);
  l.add(0, 10);  // 0 .. 90 ms
  // At 75 ms the slots before 45 ms (0, 10, 20, 30, 40) are past the burst.
  EXPECT_DOUBLE_EQ(l.available(75 * kMs), 5);
  EXPECT_DOUBLE_EQ(l.expired(), 5);
  EXPECT_EQ(l.take(1, 75 * kMs), 75 * kMs) << "slot 50 is due: used now";
  EXPECT_EQ(l.take(4, 75 * kMs), 90 * kMs);
}

TEST(Leases, FractionalCostsShareTokens) {
  Leases l(10 * kMs, 0);
  l.add(0, 2);
  EXPECT_EQ(l.take(0.5, 0), 0);
  EXPECT_EQ(l.take(0.5, 0), 5 * kMs);
  EXPECT_EQ(l.take(1, 0), 10 * kMs);
  EXPECT_EQ(l.take(0.1, 0), std::nullopt);
}

}  // namespace
}  // namespace sluice::ratelimit
