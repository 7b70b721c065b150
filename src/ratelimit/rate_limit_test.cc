#include "ratelimit/rate_limit.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "async/spawn.h"
#include "core/message.h"

namespace sluice::ratelimit {
namespace {

TEST(RateLimit, CostTemplateWeighsTakes) {
  core::ManualClock clock;
  RateLimit rl("sms", {10, 10}, make_local_backend({10, 10}, false, clock), std::nullopt,
               tmpl::Template::compile("{{segments}}").value());
  EXPECT_EQ(rl.cost_of(core::Message(R"({"segments":3})")).value(), 3.0);
  auto bad = rl.cost_of(core::Message(R"({"segments":"many"})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().detail, "rate limit 'sms': cost 'many' is not a non-negative number");
}

TEST(RateLimit, KeyedAcquireWaitsPerKeyOnATimer) {
  boost::asio::io_context io;
  const auto& clock = core::SteadyClock::instance();
  RateSpec spec{100, 1};
  RateLimit rl("per_sender", spec, make_local_backend(spec, true, clock),
               tmpl::Template::compile("{{from}}").value());
  std::vector<int64_t> waits;
  async::spawn(io, [&]() -> boost::asio::awaitable<void> {
    for (const char* from : {"b", "b", "a"}) {
      const core::Message m(std::string(R"({"from":")") + from + "\"}");  // named: see async/blocking.h
      auto w = co_await rl.acquire(m);
      waits.push_back(w.value().count());
    }
  });
  io.run();
  ASSERT_EQ(waits.size(), 3u);
  EXPECT_EQ(waits[0], 0);           // b: first token
  EXPECT_NEAR(waits[1], 10e6, 1e6);  // b again: waits ~10ms for a refill
  EXPECT_EQ(waits[2], 0);           // a: its own bucket is full
}

}  // namespace
}  // namespace sluice::ratelimit
