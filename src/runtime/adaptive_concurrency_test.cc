#include "runtime/adaptive_concurrency.h"

#include <gtest/gtest.h>

#include <functional>
#include <queue>
#include <vector>

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;

// A discrete-event peer: every permit is used at once (an endless backlog);
// `serve(concurrency)` says how long a write takes and whether it is refused
// as overload when `concurrency` writes are under way. Returns the limit
// seen at each write's end.
std::vector<size_t> simulate(AdaptiveConcurrency& ac, int writes,
                             const std::function<std::pair<core::Nanos, bool>(size_t)>& serve) {
  using Event = std::pair<int64_t, std::pair<core::Nanos, bool>>;  // end time, (rtt, overloaded)
  std::priority_queue<Event, std::vector<Event>, std::greater<>> running;
  int64_t now = 0;
  size_t permits = ac.start();
  std::vector<size_t> limits;
  auto launch = [&] {
    for (; permits > 0; --permits) {
      ac.began();
      auto [rtt, overloaded] = serve(running.size() + 1);
      running.push({now + rtt.count(), {rtt, overloaded}});
    }
  };
  launch();
  for (int i = 0; i < writes; ++i) {
    auto [end, result] = running.top();
    running.pop();
    now = end;
    permits += ac.finished(now, result.first, result.second);
    limits.push_back(ac.limit());
    launch();
  }
  return limits;
}

TEST(AdaptiveConcurrency, GrowsToMaxWhileThePeerKeepsUp) {
  AdaptiveConcurrency ac({.max = 32});
  auto limits = simulate(ac, 20'000, [](size_t) { return std::pair{10ms, false}; });
  EXPECT_EQ(limits.back(), 32u);
  for (size_t l : limits) ASSERT_LE(l, 32u) << "never above max_in_flight";
}

TEST(AdaptiveConcurrency, SettlesBelowThePeersCapacityWhenItRefusesTheRest) {
  // The peer answers 429 to every write beyond 12 at once.
  AdaptiveConcurrency ac({.max = 64});
  size_t refused = 0;
  auto limits = simulate(ac, 20'000, [&](size_t c) {
    const bool over = c > 12;
    refused += over;
    return std::pair{over ? 1ms : 10ms, over};
  });
  for (size_t i = limits.size() / 2; i < limits.size(); ++i) {
    ASSERT_GE(limits[i], 6u) << "at write " << i;
    ASSERT_LE(limits[i], 14u) << "at write " << i;
  }
  EXPECT_LT(refused, 20'000u / 10) << "AIMD keeps refusals rare";
}

TEST(AdaptiveConcurrency, BacksOffWhenRoundTripsGrow) {
  // No refusals, but beyond 8 at once the peer queues: latency grows.
  AdaptiveConcurrency ac({.max = 64});
  auto limits = simulate(ac, 20'000, [](size_t c) {
    const int64_t ms = c <= 8 ? 10 : 10 * static_cast<int64_t>(c) / 8;
    return std::pair{core::Nanos(ms * 1'000'000), false};
  });
  size_t highest_late = 0;
  for (size_t i = limits.size() / 2; i < limits.size(); ++i) highest_late = std::max(highest_late, limits[i]);
  EXPECT_LT(highest_late, 32u) << "latency alone must hold the limit well below max";
}

TEST(AdaptiveConcurrency, PermitsFollowTheLimit) {
  AdaptiveConcurrency ac({.max = 8, .initial = 4});
  EXPECT_EQ(ac.start(), 4u);
  for (int i = 0; i < 4; ++i) ac.began();
  // One overloaded window: 4 * 0.9 -> 3; the first permit back is withheld.
  EXPECT_EQ(ac.finished(2'000'000, 2ms, true), 0u);
  EXPECT_EQ(ac.limit(), 3u);
  EXPECT_EQ(ac.finished(2'100'000, 2ms, false), 1u);
}

}  // namespace
}  // namespace sluice::runtime
