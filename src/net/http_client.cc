#include "net/http_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <deque>
#include <map>
#include <mutex>

#include "async/blocking.h"
#include "logging/log.h"
#include "net/base64.h"
#include "net/tls_client.h"

namespace sluice::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using asio::use_awaitable;

void Cancellation::cancel() {
  std::map<uint64_t, std::function<void()>> subscribers;
  {
    std::lock_guard lock(mu_);
    if (cancelled_) return;
    cancelled_ = true;
    subscribers.swap(subscribers_);
  }
  for (auto& [id, fn] : subscribers) fn();
}

bool Cancellation::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

uint64_t Cancellation::subscribe(std::function<void()> on_cancel) {
  {
    std::lock_guard lock(mu_);
    if (!cancelled_) {
      subscribers_.emplace(next_, std::move(on_cancel));
      return next_++;
    }
  }
  on_cancel();
  return 0;
}

void Cancellation::unsubscribe(uint64_t id) {
  std::lock_guard lock(mu_);
  subscribers_.erase(id);
}

std::string basic_auth(std::string_view user, std::string_view password) {
  return "Basic " + base64(std::string(user) + ":" + std::string(password));
}

namespace {

int64_t now_ns() { return std::chrono::steady_clock::now().time_since_epoch().count(); }

struct Target {
  bool tls = false;
  std::string host, port, path;  // path includes the query
  std::string key() const { return fmt::format("{}://{}:{}", tls ? "https" : "http", host, port); }
  std::string host_header() const {
    const bool default_port = port == (tls ? "443" : "80");
    return default_port ? host : host + ":" + port;
  }
};

core::Result<Target> parse_target(const std::string& url) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) return core::fail(core::Errc::invalid_payload, "bad URL '" + url + "'");
  Target t;
  if (u->scheme() == "https") {
    t.tls = true;
  } else if (u->scheme() != "http") {
    return core::fail(core::Errc::invalid_payload, "URL scheme must be http or https: '" + url + "'");
  }
  t.host = std::string(u->host_address());
  if (t.host.empty()) return core::fail(core::Errc::invalid_payload, "URL has no host: '" + url + "'");
  t.port = u->has_port() ? std::string(u->port()) : (t.tls ? "443" : "80");
  t.path = std::string(u->encoded_path());
  if (t.path.empty()) t.path = "/";
  if (u->has_query()) t.path += "?" + std::string(u->encoded_query());
  return t;
}

// A cancellable request runs on a strand of its own; a cancel is posted to
// that strand, so it never touches a stream while the request does. `stream`
// is the connection in use, null between steps and once done.
struct CancelState {
  bool cancelled = false;
  bool done = false;
  beast::tcp_stream* stream = nullptr;
};

struct Connection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  int64_t last_used_ns = 0;
  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

}  // namespace

std::optional<std::string> url_problem(const std::string& url) {
  auto target = parse_target(url);
  if (target) return std::nullopt;
  return target.error().detail;
}

struct HttpClient::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_, HttpClientOptions o) : io(io_), options(std::move(o)), tls_context(ssl::context::tls_client) {
    configure_tls_client(tls_context, options.verify_tls, options.ca_file);
  }

  struct Pool {
    std::deque<std::unique_ptr<Connection>> idle;
    size_t open = 0;
    std::deque<std::function<void(bool)>> waiters;
  };

  asio::io_context& io;
  HttpClientOptions options;
  ssl::context tls_context;
  mutable std::mutex mu;
  std::map<std::string, Pool> pools;

  // An idle connection (reused = true), a slot for a new one (nullptr), or a
  // wait until one of those frees up.
  asio::awaitable<std::pair<std::unique_ptr<Connection>, bool>> acquire(const std::string& key) {
    for (;;) {
      {
        std::lock_guard lock(mu);
        auto& pool = pools[key];
        const int64_t oldest = now_ns() - options.idle_ttl.count();
        while (!pool.idle.empty()) {
          auto c = std::move(pool.idle.back());
          pool.idle.pop_back();
          if (c->last_used_ns >= oldest) co_return std::pair{std::move(c), true};
          --pool.open;  // too old: the server has likely closed it
        }
        if (pool.open < options.max_connections_per_host) {
          ++pool.open;
          co_return std::pair{std::unique_ptr<Connection>(), false};
        }
      }
      auto wait = [this, &key](std::function<void(bool)> wake) {
        std::lock_guard lock(mu);
        pools[key].waiters.push_back(std::move(wake));
      };
      co_await async::await_callback<bool>(std::move(wait));  // named: see async/blocking.h
    }
  }

  void release(const std::string& key, std::unique_ptr<Connection> c) {
    std::function<void(bool)> wake;
    {
      std::lock_guard lock(mu);
      auto& pool = pools[key];
      if (c) {
        c->last_used_ns = now_ns();
        pool.idle.push_back(std::move(c));
      } else {
        --pool.open;
      }
      if (!pool.waiters.empty()) {
        wake = std::move(pool.waiters.front());
        pool.waiters.pop_front();
      }
    }
    if (wake) wake(true);
  }

  asio::awaitable<core::Result<std::unique_ptr<Connection>>> connect(const Target& t) {
    auto c = std::make_unique<Connection>();
    tcp::resolver resolver(io);
    auto [rec, endpoints] = co_await resolver.async_resolve(t.host, t.port, asio::as_tuple(use_awaitable));
    if (rec) co_return core::fail(core::Errc::unavailable, fmt::format("resolve {}: {}", t.host, rec.message()));
    if (t.tls) {
      c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io, tls_context);
    } else {
      c->plain = std::make_unique<beast::tcp_stream>(io);
    }
    c->lowest().expires_after(options.connect_timeout);
    auto [cec, ep] = co_await c->lowest().async_connect(endpoints, asio::as_tuple(use_awaitable));
    if (cec) {
      if (cec == beast::error::timeout)
        co_return core::fail(core::Errc::timeout, fmt::format("connect {}:{}: no connection within {} ms", t.host,
                                                              t.port, options.connect_timeout.count() / 1'000'000));
      co_return core::fail(core::Errc::unavailable, fmt::format("connect {}:{}: {}", t.host, t.port, cec.message()));
    }
    logging::debug("http client: connected to {}:{}", t.host, t.port);
    c->lowest().socket().set_option(tcp::no_delay(true));
    if (t.tls) {
      const auto hec = co_await tls_client_handshake(*c->tls, t.host, options.verify_tls);
      if (hec) co_return core::fail(core::Errc::unavailable, fmt::format("TLS handshake with {}: {}", t.host, hec.message()));
    }
    co_return c;
  }

  template <class Stream>
  static asio::awaitable<boost::system::error_code> exchange(Stream& s, beast::flat_buffer& buffer,
                                                            http::request<http::string_body>& req,
                                                            http::response_parser<http::string_body>& parser) {
    auto [wec, wn] = co_await http::async_write(s, req, asio::as_tuple(use_awaitable));
    if (wec) co_return wec;
    auto [rec, rn] = co_await http::async_read(s, buffer, parser, asio::as_tuple(use_awaitable));
    co_return rec;
  }

  // Runs `r` on a strand of its own when it can be cancelled.
  asio::awaitable<core::Result<ClientResponse>> request(ClientRequest r) {
    if (!r.cancel) co_return co_await perform(std::move(r), nullptr);
    if (r.cancel->cancelled()) co_return core::fail(core::Errc::closed, "request cancelled");
    auto strand = asio::make_strand(io);
    auto state = std::make_shared<CancelState>();
    auto cancel = r.cancel;
    const uint64_t sub = cancel->subscribe([strand, state] {
      asio::post(strand, [state] {
        state->cancelled = true;
        if (!state->done && state->stream) state->stream->cancel();
      });
    });
    auto self = shared_from_this();
    auto work = [self, r = std::move(r), state]() mutable -> asio::awaitable<core::Result<ClientResponse>> {
      auto out = co_await self->perform(std::move(r), state.get());
      state->done = true;
      state->stream = nullptr;
      co_return out;
    };
    auto result = co_await asio::co_spawn(strand, std::move(work), use_awaitable);
    cancel->unsubscribe(sub);
    co_return result;
  }

  asio::awaitable<core::Result<ClientResponse>> perform(ClientRequest r, CancelState* cancel) {
    auto cancelled = [&] { return cancel && cancel->cancelled; };
    auto target = parse_target(r.url);
    if (!target) co_return std::unexpected(target.error());
    const std::string key = target->key();
    const auto verb = http::string_to_verb(r.method);
    if (verb == http::verb::unknown) co_return core::fail(core::Errc::invalid_payload, "unknown method " + r.method);
    for (int attempt = 0;; ++attempt) {
      auto [conn, reused] = co_await acquire(key);
      if (!conn) {
        auto fresh = co_await connect(*target);
        if (!fresh) {
          release(key, nullptr);
          if (cancelled()) co_return core::fail(core::Errc::closed, "request cancelled");
          co_return std::unexpected(fresh.error());
        }
        conn = std::move(*fresh);
      }
      if (cancelled()) {
        release(key, std::move(conn));
        co_return core::fail(core::Errc::closed, "request cancelled");
      }
      http::request<http::string_body> req{verb, target->path, 11};
      req.set(http::field::host, target->host_header());
      req.set(http::field::user_agent, "sluice/0.1");
      for (const auto& [k, v] : r.headers) req.set(k, v);
      req.body() = r.body;
      req.prepare_payload();
      req.keep_alive(true);
      http::response_parser<http::string_body> parser;
      parser.body_limit(options.max_response_body);
      conn->lowest().expires_after(r.timeout.count() > 0 ? r.timeout : options.request_timeout);
      if (cancel) cancel->stream = &conn->lowest();
      boost::system::error_code ec;  // no co_await inside ?: (GCC 12; see async/blocking.h)
      if (conn->tls) {
        ec = co_await exchange(*conn->tls, conn->buffer, req, parser);
      } else {
        ec = co_await exchange(*conn->plain, conn->buffer, req, parser);
      }
      if (cancel) cancel->stream = nullptr;
      if (ec) {
        release(key, nullptr);
        if (cancelled()) co_return core::fail(core::Errc::closed, fmt::format("{} {}: cancelled", r.method, r.url));
        const bool stale = reused && attempt == 0 && !parser.got_some() &&
                           (ec == http::error::end_of_stream || ec == asio::error::eof ||
                            ec == asio::error::connection_reset || ec == asio::error::broken_pipe);
        if (stale) continue;  // the server closed an idle connection: try once more on a new one
        if (ec == beast::error::timeout) {
          const auto limit = r.timeout.count() > 0 ? r.timeout : options.request_timeout;
          co_return core::fail(core::Errc::timeout, fmt::format("{} {}: no response within {} ms", r.method, r.url,
                                                                limit.count() / 1'000'000));
        }
        co_return core::fail(core::Errc::unavailable, fmt::format("{} {}: {}", r.method, r.url, ec.message()));
      }
      auto& msg = parser.get();
      ClientResponse out;
      out.status = static_cast<int>(msg.result_int());
      for (const auto& f : msg) {
        std::string name(f.name_string());
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        out.headers.emplace_back(std::move(name), std::string(f.value()));
      }
      out.body = std::move(msg.body());
      release(key, msg.keep_alive() ? std::move(conn) : nullptr);
      co_return out;
    }
  }
};

HttpClient::HttpClient(asio::io_context& io, HttpClientOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

HttpClient::~HttpClient() = default;

asio::awaitable<core::Result<ClientResponse>> HttpClient::request(ClientRequest req) {
  auto self = impl_;
  co_return co_await self->request(std::move(req));
}

size_t HttpClient::open_connections() const {
  std::lock_guard lock(impl_->mu);
  size_t n = 0;
  for (const auto& [k, p] : impl_->pools) n += p.open;
  return n;
}

}  // namespace sluice::net
