#include "connectors/amqp/outstanding.h"

#include <gtest/gtest.h>

namespace sluice::connectors::amqp_input {
namespace {

TEST(Outstanding, TheSettledRunAtTheFrontLeavesTogether) {
  Outstanding o;
  for (uint64_t t = 1; t <= 5; ++t) o.add(t);
  EXPECT_TRUE(o.settle(2));
  EXPECT_TRUE(o.settle(3));
  EXPECT_EQ(o.pop_settled_front(), std::nullopt) << "1 is still in flight: nothing may be covered";
  EXPECT_TRUE(o.settle(1));
  EXPECT_EQ(o.pop_settled_front(), 3u);
  EXPECT_EQ(o.open(), 2u);
  EXPECT_TRUE(o.settle(5));
  EXPECT_EQ(o.pop_settled_front(), std::nullopt) << "4 is still in flight";
  EXPECT_TRUE(o.settle(4));
  EXPECT_EQ(o.pop_settled_front(), 5u);
  EXPECT_EQ(o.open(), 0u);
}

TEST(Outstanding, ATagSettlesOnceAndOnlyIfHeld) {
  Outstanding o;
  o.add(7);
  o.add(9);
  EXPECT_FALSE(o.settle(8)) << "never delivered";
  EXPECT_TRUE(o.settle(9));
  EXPECT_FALSE(o.settle(9)) << "a second ack of one tag would close the channel (PRECONDITION_FAILED)";
  EXPECT_FALSE(o.settle(10));
  EXPECT_EQ(o.open(), 1u);
  o.clear();
  EXPECT_FALSE(o.settle(7)) << "a reconnect forgets the old channel's tags";
  EXPECT_EQ(o.open(), 0u);
}

TEST(Outstanding, AThousandInFlightSettledOutOfOrder) {
  Outstanding o;
  for (uint64_t t = 1; t <= 1000; ++t) o.add(t);
  for (uint64_t t = 1000; t >= 2; --t) ASSERT_TRUE(o.settle(t));
  EXPECT_EQ(o.pop_settled_front(), std::nullopt);
  ASSERT_TRUE(o.settle(1));
  EXPECT_EQ(o.pop_settled_front(), 1000u);
}

}  // namespace
}  // namespace sluice::connectors::amqp_input
