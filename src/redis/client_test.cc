// The Redis client against a real redis-server (Debian's, started here on a
// free loopback port): pipelining, error replies, AUTH with ACL users,
// SELECT, blocking commands beside others, a server that goes away and
// comes back, and scripts by SHA1.
#include "redis/client.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include "async/spawn.h"
#include "net/free_port.h"
#include "redis/script.h"
#include "testing/redis_server.h"
#include "testing/run_awaitable.h"

namespace sluice::redis {
namespace {

// One server for the whole test binary: it takes 0.15 s to start.
testing::RedisServer& shared_server() {
  static testing::RedisServer s(net::free_loopback_port());
  return s;
}

class RedisClient : public ::testing::Test {
 protected:
  Client client(const std::string& url, ClientOptions o = {}) {
    o.url = url;
    return Client(io_, o);
  }
  template <class T>
  T run(boost::asio::awaitable<T> a) {
    return testing::run_awaitable(io_, std::move(a));
  }
  boost::asio::io_context io_;
};

TEST_F(RedisClient, PipelinedCommandsAnswerInOrder) {
  auto c = client(shared_server().url());
  std::vector<Command> commands;
  commands.push_back({"DEL", "pipelined"});
  for (int i = 0; i < 1000; ++i) commands.push_back({"RPUSH", "pipelined", std::to_string(i)});
  commands.push_back({"LRANGE", "pipelined", "0", "2"});
  auto r = run(c.pipeline(std::move(commands)));
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->size(), 1002u);
  EXPECT_EQ((*r)[1000].integer, 1000);
  ASSERT_EQ(r->back().elements.size(), 3u);
  EXPECT_EQ(r->back().elements[2].text, "2");
  EXPECT_EQ(c.open_connections(), 1u);  // pooled for the next call
}

TEST_F(RedisClient, ErrorRepliesAreRepliesAndTheConnectionStaysUsable) {
  auto c = client(shared_server().url());
  auto r = run(c.pipeline({{"SET", "str", "x"}, {"LPUSH", "str", "y"}, {"NOSUCHCOMMAND"}, {"GET", "str"}}));
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE((*r)[1].is_error());
  EXPECT_TRUE((*r)[1].text.starts_with("WRONGTYPE")) << (*r)[1].text;
  EXPECT_TRUE((*r)[2].is_error());
  EXPECT_EQ((*r)[3].text, "x");
}

TEST_F(RedisClient, AclUsersAndDatabases) {
  auto admin = client(shared_server().url());
  ASSERT_TRUE(run(admin.command({"ACL", "SETUSER", "alice", "on", ">s3cret", "~*", "+@all"})));
  auto alice = client(fmt::format("redis://alice:s3cret@127.0.0.1:{}/3", shared_server().port()));
  ASSERT_TRUE(run(alice.command({"SET", "in3", "yes"})));
  auto who = run(alice.command({"ACL", "WHOAMI"}));
  ASSERT_TRUE(who);
  EXPECT_EQ(who->text, "alice");
  EXPECT_TRUE(run(admin.command({"GET", "in3"}))->is_null());  // database 0
  auto wrong = client(fmt::format("redis://alice:nope@127.0.0.1:{}", shared_server().port()));
  auto refused = run(wrong.command({"PING"}));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().detail.find("AUTH refused: WRONGPASS"), std::string::npos) << refused.error().detail;
  EXPECT_EQ(refused.error().detail.find("nope"), std::string::npos) << "the password is never said";
}

TEST_F(RedisClient, ABlockingCommandHoldsItsOwnConnection) {
  auto c = client(shared_server().url());
  ASSERT_TRUE(run(c.command({"DEL", "blocked"})));
  std::optional<core::Result<Reply>> popped;
  async::spawn(io_, [&]() -> boost::asio::awaitable<void> {
    Command blpop{"BLPOP", "blocked", "5"};  // named: GCC 12 and braced temporaries in co_await
    popped = co_await c.command(std::move(blpop), std::chrono::seconds(5));
  });
  // Meanwhile another call goes through, and feeds the blocked one.
  auto pushed = run(c.command({"RPUSH", "blocked", "hello"}));
  ASSERT_TRUE(pushed) << pushed.error().to_string();
  io_.restart();
  io_.run();
  ASSERT_TRUE(popped && *popped) << (popped ? popped->error().to_string() : "not run");
  EXPECT_EQ((*popped)->elements.at(1).text, "hello");
  EXPECT_EQ(c.open_connections(), 2u) << "the push did not wait behind the blocked pop";
}

TEST_F(RedisClient, ATimeoutDropsTheConnection) {
  auto c = client(shared_server().url(), ClientOptions{.command_timeout = std::chrono::milliseconds(200)});
  auto r = run(c.command({"BLPOP", "never-pushed", "2"}));  // the server holds it 2 s; we wait 200 ms
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(core::Errc::timeout)) << r.error().to_string();
  EXPECT_EQ(c.open_connections(), 0u);
  EXPECT_TRUE(run(c.command({"PING"})));
}

TEST_F(RedisClient, AServerThatGoesAwayAndComesBack) {
  const int port = net::free_loopback_port();
  testing::RedisServer s(port);
  auto c = client(s.url());
  ASSERT_TRUE(run(c.command({"PING"})));
  s.stop();
  auto lost = run(c.command({"PING"}));
  ASSERT_FALSE(lost);
  EXPECT_TRUE(lost.error().is(core::Errc::unavailable)) << lost.error().to_string();
  auto refused = run(c.command({"PING"}));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().detail.find("connect"), std::string::npos) << refused.error().detail;
  s.start();
  auto back = run(c.command({"PING"}));
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->text, "PONG");
}

TEST_F(RedisClient, ScriptsRunBySha1AndSurviveAScriptFlush) {
  auto c = client(shared_server().url());
  const Script incr("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  EXPECT_EQ(incr.sha(), "8cd00688c05c46bde4a2e60658ef20a2e5c0b248");
  auto loaded = run(c.command({"SCRIPT", "LOAD", incr.source()}));
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->text, incr.sha()) << "our SHA1 is the server's";
  ASSERT_TRUE(run(c.pipeline({{"DEL", "scripted"}, {"SCRIPT", "FLUSH"}, {"CONFIG", "RESETSTAT"}})));
  for (int i = 0; i < 10; ++i) {
    auto r = run(incr.run(c, {"scripted"}, {"5"}));
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->integer, 5 * (i + 1));
    if (i == 4) {
      ASSERT_TRUE(run(c.command({"SCRIPT", "FLUSH"})));  // as after a restart or failover
    }
  }
  auto stats = run(c.command({"INFO", "commandstats"}));
  ASSERT_TRUE(stats);
  auto count = [&](const std::string& name) {
    const auto at = stats->text.find("cmdstat_" + name + ":calls=");
    return at == std::string::npos ? 0 : std::stoll(stats->text.substr(at + name.size() + 15));
  };
  // Ten EVALSHA, two answered NOSCRIPT (the first, and the first after the flush), each followed by one EVAL.
  EXPECT_EQ(count("evalsha"), 10) << stats->text;
  EXPECT_EQ(count("eval"), 2) << stats->text;
  const Script broken("return redis.call('NOSUCHCOMMAND')");
  auto failed = run(broken.run(c, {}, {}));
  ASSERT_TRUE(failed) << failed.error().to_string();
  EXPECT_TRUE(failed->is_error());
  EXPECT_NE(failed->text.find("Unknown Redis command"), std::string::npos) << failed->text;
}

TEST(RedisUrl, PartsAndRefusals) {
  auto e = parse_url("redis://bob:p%40ss@cache.internal:6380/2");
  ASSERT_TRUE(e) << e.error().to_string();
  EXPECT_EQ(e->host, "cache.internal");
  EXPECT_EQ(e->port, "6380");
  EXPECT_EQ(e->user, "bob");
  EXPECT_EQ(e->password, "p@ss");
  EXPECT_EQ(e->db, 2);
  auto plain = parse_url("redis://:only-pass@localhost");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->user, "");
  EXPECT_EQ(plain->password, "only-pass");
  EXPECT_EQ(plain->port, "6379");
  auto tls = parse_url("rediss://cache:6380");
  ASSERT_TRUE(tls);
  EXPECT_TRUE(tls->tls);
  EXPECT_FALSE(plain->tls);
  auto sentinel = parse_url("redis+sentinel://:pw@s1,s2:26380/mymaster/3");
  ASSERT_TRUE(sentinel) << sentinel.error().to_string();
  EXPECT_EQ(sentinel->sentinels, (std::vector<std::pair<std::string, std::string>>{{"s1", "26379"}, {"s2", "26380"}}));
  EXPECT_EQ(sentinel->master, "mymaster");
  EXPECT_EQ(sentinel->password, "pw");
  EXPECT_EQ(sentinel->db, 3);
  for (const char* bad : {"redis+sentinel://s1", "redis+sentinel:///m", "redis+sentinel://s1:x/m", "redis+sentinel://s1/m/z"})
    EXPECT_FALSE(parse_url(bad)) << bad;
  for (const char* bad : {"localhost:6379", "http://x", "redis://", "redis://h/x", "redis://h/-1", "redisx://h"})
    EXPECT_FALSE(parse_url(bad)) << bad;
}

}  // namespace
}  // namespace sluice::redis
