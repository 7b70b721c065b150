#include "net/http_client.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/http_server.h"

#include <optional>
#include <thread>

namespace sluice::net {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class HttpClientTest : public ::testing::Test {
 protected:
  void serve(HttpServerOptions o = {}) {
    server_ = std::make_unique<HttpServer>(io_, o, [this](HttpRequest& req) -> asio::awaitable<HttpResponse> {
      ++in_flight_;
      max_in_flight_ = std::max(max_in_flight_, in_flight_);
      if (req.path == "/slow") {
        asio::steady_timer t(io_, 300ms);
        co_await t.async_wait(asio::use_awaitable);
      }
      --in_flight_;
      co_return HttpResponse{201, "text/plain", req.method + " " + req.path + (req.query.empty() ? "" : "?" + req.query) + " " + req.body, {{"X-Echo", "1"}}};
    });
    server_->start();
    base_ = "http://" + server_->address();
  }

  // Runs `n` requests at once and the io_context until they finish.
  // took_: how long each request took, until its own answer.
  std::vector<core::Result<ClientResponse>> run(HttpClient& client, std::vector<ClientRequest> reqs) {
    std::vector<core::Result<ClientResponse>> out(reqs.size(), core::fail(core::Errc::closed));
    took_.assign(reqs.size(), {});
    int left = static_cast<int>(reqs.size());
    for (size_t i = 0; i < reqs.size(); ++i) {
      auto one = [&, i]() -> asio::awaitable<void> {
        ClientRequest req = reqs[i];
        const auto began = std::chrono::steady_clock::now();
        out[i] = co_await client.request(std::move(req));
        took_[i] = std::chrono::steady_clock::now() - began;
        if (--left == 0) server_->stop();
      };
      asio::co_spawn(io_, one, asio::detached);
    }
    io_.run();
    io_.restart();
    return out;
  }

  asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
  std::string base_;
  int in_flight_ = 0, max_in_flight_ = 0;
  std::vector<std::chrono::steady_clock::duration> took_;
};

TEST_F(HttpClientTest, SendsAndReceivesAndReusesTheConnection) {
  serve();
  HttpClient client(io_, {});
  std::vector<core::Result<ClientResponse>> results;
  auto seq = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 5; ++i) {
      ClientRequest req{"POST", base_ + "/x?a=1", {}, "hi"};  // named: see async/blocking.h
      results.push_back(co_await client.request(std::move(req)));
    }
    server_->stop();
  };
  asio::co_spawn(io_, seq, asio::detached);
  io_.run();
  ASSERT_EQ(results.size(), 5u);
  for (auto& r : results) {
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, "POST /x?a=1 hi");
    ASSERT_NE(r->header("x-echo"), nullptr);
  }
  EXPECT_EQ(client.open_connections(), 1u);  // one keep-alive connection served all five
}

TEST_F(HttpClientTest, PoolBoundsConcurrentConnections) {
  serve();
  HttpClient client(io_, {.max_connections_per_host = 3});
  std::vector<ClientRequest> reqs(12, ClientRequest{"GET", base_ + "/slow", {}, ""});
  auto results = run(client, reqs);
  for (auto& r : results) ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_LE(max_in_flight_, 3);
  EXPECT_EQ(max_in_flight_, 3);
}

TEST_F(HttpClientTest, RequestTimeout) {
  serve();
  HttpClient client(io_, {.request_timeout = 50ms});
  auto results = run(client, {ClientRequest{"GET", base_ + "/slow", {}, ""}});
  ASSERT_FALSE(results[0]);
  EXPECT_TRUE(results[0].error().is(core::Errc::timeout)) << results[0].error().to_string();
}

TEST_F(HttpClientTest, StaleKeepAliveConnectionIsRetriedOnce) {
  serve({.idle_timeout = 50ms});
  HttpClient client(io_, {});
  std::vector<core::Result<ClientResponse>> results;
  auto seq = [&]() -> asio::awaitable<void> {
    ClientRequest a{"GET", base_ + "/a", {}, ""};
    results.push_back(co_await client.request(std::move(a)));
    asio::steady_timer t(io_, 200ms);  // the server closes the idle connection meanwhile
    co_await t.async_wait(asio::use_awaitable);
    ClientRequest b{"GET", base_ + "/b", {}, ""};
    results.push_back(co_await client.request(std::move(b)));
    server_->stop();
  };
  asio::co_spawn(io_, seq, asio::detached);
  io_.run();
  ASSERT_EQ(results.size(), 2u);
  ASSERT_TRUE(results[1]) << results[1].error().to_string();
  EXPECT_EQ(results[1]->body, "GET /b ");
}

// Shutdown: stop() while a handler waits, then answered() returns only
// once that handler is done, and its sender still gets the answer.
TEST_F(HttpClientTest, AnsweredWaitsForTheRequestInFlight) {
  serve();
  HttpClient client(io_, {});
  core::Result<ClientResponse> slow = core::fail(core::Errc::closed);
  std::optional<bool> answered;
  int in_flight_when_answered = -1;
  auto send = [&]() -> asio::awaitable<void> {
    ClientRequest req{"GET", base_ + "/slow", {}, ""};
    slow = co_await client.request(std::move(req));
  };
  auto shut = [&]() -> asio::awaitable<void> {
    asio::steady_timer t(io_, 100ms);  // the request is in its handler by now
    co_await t.async_wait(asio::use_awaitable);
    EXPECT_EQ(in_flight_, 1);
    server_->stop();
    answered = co_await server_->answered(5s);
    in_flight_when_answered = in_flight_;
  };
  asio::co_spawn(io_, send, asio::detached);
  asio::co_spawn(io_, shut, asio::detached);
  io_.run();
  ASSERT_TRUE(answered.has_value());
  EXPECT_TRUE(*answered);
  EXPECT_EQ(in_flight_when_answered, 0);
  ASSERT_TRUE(slow) << slow.error().to_string();
  EXPECT_EQ(slow->status, 201);
}

TEST_F(HttpClientTest, ConnectionRefusedAndBadUrls) {
  serve();
  const std::string dead = base_;  // nothing listens here once stopped
  server_->stop();
  HttpClient client(io_, {.connect_timeout = 500ms});
  std::vector<core::Result<ClientResponse>> out;
  auto seq = [&]() -> asio::awaitable<void> {
    for (const char* url : {"", "ftp://x/", "not a url"}) {
      ClientRequest req{"GET", *url ? std::string(url) : dead + "/", {}, ""};
      out.push_back(co_await client.request(std::move(req)));
    }
  };
  asio::co_spawn(io_, seq, asio::detached);
  io_.run();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[0].error().is(core::Errc::unavailable)) << out[0].error().to_string();
  EXPECT_TRUE(out[1].error().is(core::Errc::invalid_payload));
  EXPECT_TRUE(out[2].error().is(core::Errc::invalid_payload));
  EXPECT_EQ(client.open_connections(), 0u);
}

TEST(BasicAuth, EncodesUserAndPassword) {
  EXPECT_EQ(basic_auth("AC123", "secret"), "Basic QUMxMjM6c2VjcmV0");
}

}  // namespace
}  // namespace sluice::net

namespace sluice::net {
namespace {

// A self-signed certificate for 127.0.0.1, made with the openssl CLI.
struct SelfSigned {
  std::string dir = "/tmp/sluice-tls-" + std::to_string(::getpid());
  std::string cert = dir + "/cert.pem", key = dir + "/key.pem";
  SelfSigned() {
    const std::string cmd = "mkdir -p " + dir + " && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
                            " -addext subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " + cert + " 2>/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
  }
  ~SelfSigned() { std::system(("rm -rf " + dir).c_str()); }
};

TEST_F(HttpClientTest, TlsServerAndVerifyingClient) {
  SelfSigned certs;
  serve({.tls_cert_file = certs.cert, .tls_key_file = certs.key});
  const std::string https = "https://" + server_->address();
  HttpClient trusting(io_, {.ca_file = certs.cert});
  HttpClient system_cas(io_, {});
  std::vector<core::Result<ClientResponse>> out;
  auto seq = [&]() -> asio::awaitable<void> {
    ClientRequest ok{"POST", https + "/secure", {}, "x"};
    out.push_back(co_await trusting.request(std::move(ok)));
    ClientRequest untrusted{"POST", https + "/secure", {}, "x"};
    out.push_back(co_await system_cas.request(std::move(untrusted)));
    ClientRequest plain{"POST", "http://" + server_->address() + "/secure", {}, "x"};
    HttpClient plain_client(io_, {.request_timeout = 2s});
    out.push_back(co_await plain_client.request(std::move(plain)));
    server_->stop();
  };
  asio::co_spawn(io_, seq, asio::detached);
  io_.run();
  ASSERT_EQ(out.size(), 3u);
  ASSERT_TRUE(out[0]) << out[0].error().to_string();
  EXPECT_EQ(out[0]->body, "POST /secure x");
  ASSERT_FALSE(out[1]);  // self-signed: not trusted by the system CAs
  EXPECT_NE(out[1].error().to_string().find("TLS handshake"), std::string::npos) << out[1].error().to_string();
  EXPECT_FALSE(out[2]);  // plain HTTP to a TLS port gets no answer
}

// A per-request timeout overrides the client's: a long poll gets more, an
// API call less.
TEST_F(HttpClientTest, PerRequestTimeoutOverridesTheClients) {
  serve();
  HttpClient client(io_, {.request_timeout = 30s});
  ClientRequest req{"GET", base_ + "/slow", {}, ""};
  req.timeout = 50ms;
  auto r = run(client, {req});
  ASSERT_FALSE(r[0]);
  EXPECT_TRUE(r[0].error().is(core::Errc::timeout)) << r[0].error().to_string();
  EXPECT_LT(took_[0], 280ms) << "waited for the server's 300 ms, not the 50 ms timeout";
}

// close() of an input cancels its long polls from another thread.
TEST_F(HttpClientTest, CancellationEndsAPendingRequestFromAnotherThread) {
  serve();
  HttpClient client(io_, {.request_timeout = 30s});
  auto cancel = std::make_shared<Cancellation>();
  ClientRequest req{"GET", base_ + "/slow", {}, ""};
  req.cancel = cancel;
  std::thread canceller([cancel] {
    std::this_thread::sleep_for(50ms);
    cancel->cancel();
  });
  auto r = run(client, {req});
  canceller.join();
  ASSERT_FALSE(r[0]);
  EXPECT_TRUE(r[0].error().is(core::Errc::closed)) << r[0].error().to_string();
  EXPECT_LT(took_[0], 280ms) << "the cancelled request waited for the server's 300 ms answer";
  // Requests that come after the cancel fail at once; other requests are untouched.
  ClientRequest late{"GET", base_ + "/x", {}, ""};
  late.cancel = cancel;
  ClientRequest other{"GET", base_ + "/x", {}, ""};
  serve();
  late.url = other.url = base_ + "/x";
  auto after = run(client, {late, other});
  ASSERT_FALSE(after[0]);
  EXPECT_TRUE(after[0].error().is(core::Errc::closed));
  ASSERT_TRUE(after[1]) << after[1].error().to_string();
  EXPECT_EQ(after[1]->status, 201);
}

}  // namespace
}  // namespace sluice::net
