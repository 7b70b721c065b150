// The AMQP client against a real RabbitMQ (Debian's, started here as a
// plain process): login, topology, publishes with confirms, consuming with
// acks and nacks, the broker's refusals in its own words, returns of
// unroutable messages, and a broker that goes away.
#include "amqp/connection.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <mutex>
#include <optional>

#include "async/spawn.h"
#include "testing/rabbitmq_server.h"

namespace sluice::amqp {
namespace {

testing::RabbitMqServer& broker() {
  static testing::RabbitMqServer s;
  return s;
}

class AmqpConnection : public ::testing::Test {
 protected:
  // Runs `a` until it completes; the connection's own loops stay suspended
  // in between.
  template <class T>
  T run(boost::asio::awaitable<T> a) {
    std::optional<T> out;
    async::spawn(io_, [&]() -> boost::asio::awaitable<void> {
      out.emplace(co_await std::move(a));
      io_.stop();
    });
    io_.restart();
    io_.run();
    return std::move(*out);
  }
  // Lets the loops run for a while (deliveries, confirms).
  void pump(std::chrono::milliseconds d, const std::function<bool()>& done) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (!done() && std::chrono::steady_clock::now() < until) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(10));
    }
  }
  std::shared_ptr<Connection> connect(const std::string& url = broker().url()) {
    ConnectOptions o;
    o.url = url;
    auto c = run(Connection::open(io_, o));
    EXPECT_TRUE(c) << c.error().to_string();
    return c ? *c : nullptr;
  }
  boost::asio::io_context io_;
};

TEST_F(AmqpConnection, PublishesConfirmedThenConsumedAndAcked) {
  auto c = connect();
  ASSERT_TRUE(c);
  std::mutex mu;
  std::vector<Delivery> got;
  uint64_t confirmed = 0;
  ChannelEvents ev;
  ev.deliveries = [&](std::vector<Delivery> ds) {
    std::lock_guard l(mu);
    for (auto& d : ds) got.push_back(std::move(d));
  };
  ev.confirm = [&](uint64_t tag, bool, bool ack) {
    std::lock_guard l(mu);
    if (ack) confirmed = std::max(confirmed, tag);
  };
  auto ch = run(c->open_channel(ev));
  ASSERT_TRUE(ch) << ch.error().to_string();
  auto q = run(c->declare_queue(*ch, "roundtrip", {.arguments = {{"x-queue-type", Field::of(std::string("quorum"))}}}));
  ASSERT_TRUE(q) << q.error().to_string();
  ASSERT_TRUE(run(c->confirm_select(*ch)));
  const std::string big(300 * 1024, 'b');  // more than one body frame
  Properties p;
  p.delivery_mode = 2;
  p.headers = {{"kind", Field::of(std::string("test"))}};
  for (int i = 0; i < 100; ++i) EXPECT_EQ(c->publish(*ch, "", "roundtrip", false, p, i == 50 ? big : std::to_string(i)), uint64_t(i + 1));
  pump(std::chrono::seconds(10), [&] { std::lock_guard l(mu); return confirmed == 100; });
  EXPECT_EQ(confirmed, 100u);

  ASSERT_TRUE(run(c->qos(*ch, 20)));
  ASSERT_TRUE(run(c->consume(*ch, "roundtrip")));
  size_t seen = 0;
  pump(std::chrono::seconds(10), [&] {
    std::lock_guard l(mu);
    for (; seen < got.size(); ++seen) c->ack(got[seen].channel, got[seen].tag, false);
    return got.size() >= 100;
  });
  std::lock_guard l(mu);
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got[0].body, "0");
  EXPECT_EQ(got[50].body.size(), big.size());
  EXPECT_EQ(got[99].routing_key, "roundtrip");
  EXPECT_EQ(find(got[1].properties.headers, "kind")->to_text(), "test");
  EXPECT_EQ(got[1].properties.delivery_mode, 2);
}

TEST_F(AmqpConnection, NackWithRequeueRedeliversWithTheFlagSet) {
  auto c = connect();
  ASSERT_TRUE(c);
  std::mutex mu;
  std::vector<Delivery> got;
  ChannelEvents ev;
  ev.deliveries = [&](std::vector<Delivery> ds) {
    std::lock_guard l(mu);
    for (auto& d : ds) got.push_back(std::move(d));
  };
  auto ch = run(c->open_channel(ev));
  ASSERT_TRUE(ch);
  ASSERT_TRUE(run(c->declare_queue(*ch, "requeue", {.durable = false, .auto_delete = true})));
  c->publish(*ch, "", "requeue", false, {}, "once");
  ASSERT_TRUE(run(c->consume(*ch, "requeue")));
  pump(std::chrono::seconds(5), [&] { std::lock_guard l(mu); return !got.empty(); });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0].redelivered);
  c->nack(*ch, got[0].tag, false, true);
  pump(std::chrono::seconds(5), [&] { std::lock_guard l(mu); return got.size() == 2; });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[1].redelivered);
  EXPECT_EQ(got[1].body, "once");
}

TEST_F(AmqpConnection, TheBrokersRefusalsInItsOwnWords) {
  ConnectOptions bad;
  bad.url = fmt::format("amqp://guest:wrong@127.0.0.1:{}/", broker().port());
  auto refused = run(Connection::open(io_, bad));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().detail.find("ACCESS_REFUSED"), std::string::npos) << refused.error().detail;
  EXPECT_EQ(refused.error().detail.find("wrong"), std::string::npos) << "the password is never said";

  bad.url = broker().url("no-such-vhost");
  auto no_vhost = run(Connection::open(io_, bad));
  ASSERT_FALSE(no_vhost);
  EXPECT_NE(no_vhost.error().detail.find("NOT_ALLOWED"), std::string::npos) << no_vhost.error().detail;

  auto c = connect();
  ASSERT_TRUE(c);
  std::string closed_why;
  ChannelEvents ev;
  ev.closed = [&](const core::Error& e) { closed_why = e.detail; };
  auto ch = run(c->open_channel(ev));
  ASSERT_TRUE(ch);
  auto missing = run(c->declare_queue(*ch, "never-declared", {.passive = true}));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().detail.find("404 NOT_FOUND - no queue 'never-declared'"), std::string::npos)
      << missing.error().detail;
  EXPECT_NE(closed_why.find("404"), std::string::npos) << closed_why;
  EXPECT_TRUE(c->is_open()) << "a channel error leaves the connection up";
  auto again = run(c->open_channel({}));
  EXPECT_TRUE(again) << again.error().to_string();
}

TEST_F(AmqpConnection, UnroutableMandatoryPublishesComeBack) {
  auto c = connect();
  ASSERT_TRUE(c);
  std::optional<Returned> returned;
  bool acked = false;
  ChannelEvents ev;
  ev.returned = [&](Returned r) { returned = std::move(r); };
  ev.confirm = [&](uint64_t, bool, bool ack) { acked = ack; };
  auto ch = run(c->open_channel(ev));
  ASSERT_TRUE(ch);
  ASSERT_TRUE(run(c->confirm_select(*ch)));
  c->publish(*ch, "amq.direct", "nobody-listens", true, {}, "lost?");
  pump(std::chrono::seconds(5), [&] { return returned && acked; });
  ASSERT_TRUE(returned);
  EXPECT_EQ(returned->code, 312);
  EXPECT_EQ(returned->text, "NO_ROUTE");
  EXPECT_EQ(returned->body, "lost?");
  EXPECT_TRUE(acked) << "the broker confirms a returned message after the return";
}

TEST_F(AmqpConnection, ABrokerThatGoesAwayEndsTheConnectionWithTheReason) {
  auto c = connect();
  ASSERT_TRUE(c);
  std::atomic<bool> closed{false};
  ChannelEvents ev;
  ev.closed = [&](const core::Error&) { closed = true; };
  ASSERT_TRUE(run(c->open_channel(ev)));
  broker().ctl(fmt::format("close_all_connections 'maintenance window'"));
  pump(std::chrono::seconds(10), [&] { return closed.load(); });
  EXPECT_TRUE(closed);
  EXPECT_FALSE(c->is_open());
  EXPECT_NE(c->error().detail.find("CONNECTION_FORCED - maintenance window"), std::string::npos) << c->error().detail;
}

}  // namespace
}  // namespace sluice::amqp
