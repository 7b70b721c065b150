#include "redis/client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <charconv>
#include <mutex>
#include <stdexcept>

#include "logging/log.h"
#include "net/tls_client.h"

namespace sluice::redis {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

core::Result<Endpoint> parse_url(const std::string& url) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) return core::fail(core::Errc::invalid_payload, fmt::format("'{}' is not a URL", url));
  if (u->scheme() != "redis" && u->scheme() != "rediss")
    return core::fail(core::Errc::invalid_payload, fmt::format("'{}' is not a redis:// or rediss:// URL", u->scheme()));
  Endpoint e;
  e.tls = u->scheme() == "rediss";
  e.host = u->host();
  if (e.host.empty()) return core::fail(core::Errc::invalid_payload, "the Redis URL has no host");
  if (!u->port().empty()) e.port = u->port();
  if (u->has_userinfo()) {
    e.user = u->user();
    e.password = u->password();
    // redis://:secret@host is a password without a user (requirepass).
  }
  const std::string path = u->path();
  if (path.size() > 1) {
    const std::string_view db = std::string_view(path).substr(1);
    auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), e.db);
    if (ec != std::errc() || end != db.data() + db.size() || e.db < 0)
      return core::fail(core::Errc::invalid_payload, fmt::format("'{}' is not a database number", db));
  }
  return e;
}

namespace {

struct Connection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;  // rediss://
  Decoder decoder;
  std::string buffer = std::string(64 * 1024, '\0');
  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

template <class Stream>
asio::awaitable<std::tuple<boost::system::error_code, size_t>> write_all(Stream& s, const std::string& out) {
  co_return co_await asio::async_write(s, asio::buffer(out), asio::as_tuple(use_awaitable));
}

template <class Stream>
asio::awaitable<std::tuple<boost::system::error_code, size_t>> read_some(Stream& s, std::string& buffer) {
  co_return co_await s.async_read_some(asio::buffer(buffer), asio::as_tuple(use_awaitable));
}

}  // namespace

struct Client::Impl {
  Impl(asio::io_context& i, ClientOptions o, Endpoint e) : io(i), options(std::move(o)), endpoint(std::move(e)) {
    if (endpoint.tls) {
      tls_context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
      net::configure_tls_client(*tls_context, options.tls_verify, options.tls_ca_file);
    }
  }

  // Writes the commands and reads as many replies; an error means the
  // connection is no good any more.
  asio::awaitable<core::Result<std::vector<Reply>>> exchange(Connection& c, const std::string& out, size_t expected,
                                                            std::chrono::nanoseconds deadline) {
    c.lowest().expires_after(deadline);
    // No co_await inside ?: (GCC 12 destroys the temporaries twice).
    std::tuple<boost::system::error_code, size_t> wrote;
    if (c.tls)
      wrote = co_await write_all(*c.tls, out);
    else
      wrote = co_await write_all(*c.plain, out);
    if (const auto wec = std::get<0>(wrote)) co_return failure(wec, "write");
    std::vector<Reply> replies;
    replies.reserve(expected);
    while (replies.size() < expected) {
      auto next = c.decoder.next();
      if (!next) co_return std::unexpected(next.error());
      if (*next) {
        replies.push_back(std::move(**next));
        continue;
      }
      std::tuple<boost::system::error_code, size_t> got;
      if (c.tls)
        got = co_await read_some(*c.tls, c.buffer);
      else
        got = co_await read_some(*c.plain, c.buffer);
      const auto [rec, n] = got;
      if (rec) co_return failure(rec, "read");
      c.decoder.feed(std::string_view(c.buffer.data(), n));
    }
    c.lowest().expires_never();
    co_return replies;
  }

  std::unexpected<core::Error> failure(const boost::system::error_code& ec, const char* during) const {
    const bool timed_out = ec == beast::error::timeout;
    return std::unexpected(core::Error{core::make_error_code(timed_out ? core::Errc::timeout : core::Errc::unavailable),
                       fmt::format("redis {}:{}: {} {}", endpoint.host, endpoint.port,
                                   timed_out ? "no answer in time during" : "connection lost during",
                                   timed_out ? std::string(during) : fmt::format("{} ({})", during, ec.message()))});
  }

  // A pooled connection, or a new one past its AUTH and SELECT.
  asio::awaitable<core::Result<std::unique_ptr<Connection>>> acquire() {
    {
      std::lock_guard lock(mu);
      if (!idle.empty()) {
        auto c = std::move(idle.back());
        idle.pop_back();
        co_return c;
      }
      if (open >= options.max_connections)
        co_return core::fail(core::Errc::unavailable,
                             fmt::format("redis {}:{}: all {} connections are in use", endpoint.host, endpoint.port,
                                         options.max_connections));
      ++open;
    }
    auto c = co_await connect();
    if (!c) {
      std::lock_guard lock(mu);
      --open;
    }
    co_return c;
  }

  asio::awaitable<core::Result<std::unique_ptr<Connection>>> connect() {
    tcp::resolver resolver(io);
    auto [rec, endpoints] =
        co_await resolver.async_resolve(endpoint.host, endpoint.port, asio::as_tuple(use_awaitable));
    if (rec)
      co_return core::fail(core::Errc::unavailable,
                           fmt::format("redis {}:{}: cannot resolve ({})", endpoint.host, endpoint.port, rec.message()));
    auto c = std::make_unique<Connection>();
    if (tls_context)
      c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io, *tls_context);
    else
      c->plain = std::make_unique<beast::tcp_stream>(io);
    c->lowest().expires_after(options.connect_timeout);
    auto [cec, ep] = co_await c->lowest().async_connect(endpoints, asio::as_tuple(use_awaitable));
    if (cec) co_return failure(cec, "connect");
    c->lowest().socket().set_option(tcp::no_delay(true));
    if (c->tls) {
      const auto hec = co_await net::tls_client_handshake(*c->tls, endpoint.host, options.tls_verify);
      if (hec)
        co_return core::fail(core::Errc::unavailable, fmt::format("redis {}:{}: TLS handshake failed ({})",
                                                                  endpoint.host, endpoint.port, hec.message()));
    }
    std::string hello;
    std::vector<const char*> sent;  // what each reply answers
    if (!endpoint.password.empty()) {
      if (endpoint.user.empty()) append_command(hello, {"AUTH", endpoint.password});
      else append_command(hello, {"AUTH", endpoint.user, endpoint.password});
      sent.push_back("AUTH");
    }
    if (endpoint.db != 0) {
      append_command(hello, {"SELECT", std::to_string(endpoint.db)});
      sent.push_back("SELECT");
    }
    if (!sent.empty()) {
      auto replies = co_await exchange(*c, hello, sent.size(), options.command_timeout);
      if (!replies) co_return std::unexpected(replies.error());
      for (size_t i = 0; i < sent.size(); ++i)
        if ((*replies)[i].is_error())
          co_return core::fail(core::Errc::unavailable, fmt::format("redis {}:{}: {} refused: {}", endpoint.host,
                                                                    endpoint.port, sent[i], (*replies)[i].text));
    }
    logging::debug("redis {}:{}: connected", endpoint.host, endpoint.port);
    co_return c;
  }

  void release(std::unique_ptr<Connection> c, bool healthy) {
    std::lock_guard lock(mu);
    if (healthy && idle.size() < options.max_idle && c->decoder.buffered() == 0) {
      idle.push_back(std::move(c));
      return;
    }
    --open;
  }

  asio::io_context& io;
  const ClientOptions options;
  const Endpoint endpoint;
  std::unique_ptr<asio::ssl::context> tls_context;  // rediss:// only
  mutable std::mutex mu;
  std::vector<std::unique_ptr<Connection>> idle;
  size_t open = 0;
};

Client::Client(asio::io_context& io, ClientOptions options) {
  auto e = parse_url(options.url);
  if (!e) throw std::invalid_argument(e.error().detail);
  impl_ = std::make_shared<Impl>(io, std::move(options), std::move(*e));
}

Client::~Client() = default;

asio::awaitable<core::Result<std::vector<Reply>>> Client::pipeline(std::vector<Command> commands,
                                                                    std::chrono::nanoseconds wait) {
  auto impl = impl_;  // the call may outlive a Client destroyed meanwhile
  if (commands.empty()) co_return std::vector<Reply>{};
  auto conn = co_await impl->acquire();
  if (!conn) co_return std::unexpected(conn.error());
  std::string out;
  for (const auto& c : commands) {
    std::vector<std::string_view> args(c.begin(), c.end());
    append_command(out, args);
  }
  auto replies = co_await impl->exchange(**conn, out, commands.size(), impl->options.command_timeout + wait);
  impl->release(std::move(*conn), replies.has_value());
  co_return replies;
}

asio::awaitable<core::Result<Reply>> Client::command(Command command, std::chrono::nanoseconds wait) {
  std::vector<Command> one;
  one.push_back(std::move(command));
  auto replies = co_await pipeline(std::move(one), wait);
  if (!replies) co_return std::unexpected(replies.error());
  co_return std::move(replies->front());
}

size_t Client::open_connections() const {
  std::lock_guard lock(impl_->mu);
  return impl_->open;
}

const Endpoint& Client::endpoint() const { return impl_->endpoint; }

}  // namespace sluice::redis
