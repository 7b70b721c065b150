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

namespace {

// redis+sentinel://[user[:password]@]host[:port][,host[:port]...]/master[/db]:
// the hosts are Sentinels (port 26379 by default); the password and db are
// the primary's. Parsed by hand: a list of hosts is not a URL authority.
core::Result<Endpoint> parse_sentinel_url(std::string_view rest) {
  Endpoint e;
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view info = authority.substr(0, at);
    const size_t colon = info.find(':');
    e.user = std::string(info.substr(0, colon));
    if (colon != std::string_view::npos) e.password = std::string(info.substr(colon + 1));
    authority = authority.substr(at + 1);
  }
  while (!authority.empty()) {
    const size_t comma = authority.find(',');
    const std::string_view host_port = authority.substr(0, comma);
    const size_t colon = host_port.rfind(':');
    std::string host(host_port.substr(0, colon));
    std::string port = colon == std::string_view::npos ? "26379" : std::string(host_port.substr(colon + 1));
    if (host.empty() || port.empty() || port.find_first_not_of("0123456789") != std::string::npos)
      return core::fail(core::Errc::invalid_payload, fmt::format("'{}' is not a Sentinel's host:port", host_port));
    e.sentinels.emplace_back(std::move(host), std::move(port));
    authority = comma == std::string_view::npos ? std::string_view() : authority.substr(comma + 1);
  }
  if (e.sentinels.empty()) return core::fail(core::Errc::invalid_payload, "the Sentinel URL names no Sentinel");
  const size_t next = path.find('/');
  e.master = std::string(path.substr(0, next));
  if (e.master.empty())
    return core::fail(core::Errc::invalid_payload, "the Sentinel URL names no primary: redis+sentinel://host/<name>");
  if (next != std::string_view::npos) {
    const std::string_view db = path.substr(next + 1);
    auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), e.db);
    if (ec != std::errc() || end != db.data() + db.size() || e.db < 0)
      return core::fail(core::Errc::invalid_payload, fmt::format("'{}' is not a database number", db));
  }
  e.host = e.sentinels.front().first;  // for messages until the primary is known
  e.port = e.sentinels.front().second;
  return e;
}

}  // namespace

core::Result<Endpoint> parse_url(const std::string& url) {
  constexpr std::string_view kSentinel = "redis+sentinel://";
  if (std::string_view(url).starts_with(kSentinel)) return parse_sentinel_url(std::string_view(url).substr(kSentinel.size()));
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) return core::fail(core::Errc::invalid_payload, fmt::format("'{}' is not a URL", url));
  if (u->scheme() != "redis" && u->scheme() != "rediss")
    return core::fail(core::Errc::invalid_payload,
                      fmt::format("'{}' is not a redis://, rediss:// or redis+sentinel:// URL", u->scheme()));
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
  uint64_t generation = 0;  // redis+sentinel://: of the primary it was opened to
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
    if (!endpoint.sentinels.empty()) co_await recheck_primary();
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

  // TCP (and TLS) to host:port.
  asio::awaitable<core::Result<std::unique_ptr<Connection>>> open_stream(const std::string& host,
                                                                         const std::string& port, bool tls) {
    tcp::resolver resolver(io);
    auto [rec, endpoints] = co_await resolver.async_resolve(host, port, asio::as_tuple(use_awaitable));
    if (rec)
      co_return core::fail(core::Errc::unavailable,
                           fmt::format("redis {}:{}: cannot resolve ({})", host, port, rec.message()));
    auto c = std::make_unique<Connection>();
    if (tls)
      c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io, *tls_context);
    else
      c->plain = std::make_unique<beast::tcp_stream>(io);
    c->lowest().expires_after(options.connect_timeout);
    auto [cec, ep] = co_await c->lowest().async_connect(endpoints, asio::as_tuple(use_awaitable));
    if (cec) co_return failure(cec, "connect");
    c->lowest().socket().set_option(tcp::no_delay(true));
    if (c->tls) {
      const auto hec = co_await net::tls_client_handshake(*c->tls, host, options.tls_verify);
      if (hec)
        co_return core::fail(core::Errc::unavailable,
                             fmt::format("redis {}:{}: TLS handshake failed ({})", host, port, hec.message()));
    }
    co_return c;
  }

  // Where the Sentinels say the primary is: the first that answers.
  asio::awaitable<core::Result<std::pair<std::string, std::string>>> find_primary() {
    std::string why = "no Sentinel answered";
    for (const auto& [host, port] : endpoint.sentinels) {
      auto s = co_await open_stream(host, port, false);
      if (!s) {
        why = s.error().detail;
        continue;
      }
      std::string ask;
      append_command(ask, {"SENTINEL", "get-master-addr-by-name", endpoint.master});
      auto r = co_await exchange(**s, ask, 1, options.command_timeout);
      if (!r) {
        why = r.error().detail;
        continue;
      }
      const Reply& addr = r->front();
      if (addr.type == Reply::Type::array && addr.elements.size() == 2)
        co_return std::pair{addr.elements[0].text, addr.elements[1].text};
      why = fmt::format("Sentinel {}:{} knows no primary '{}' ({})", host, port, endpoint.master, addr.describe());
    }
    co_return core::fail(core::Errc::unavailable, fmt::format("redis sentinel: {}", why));
  }

  // redis+sentinel://: at most once a second, ask where the primary is.
  // When it moved (a failover), the connections to the old one are
  // dropped: a demoted primary keeps taking writes until the Sentinel
  // reconfigures it, and loses them when it resyncs.
  asio::awaitable<void> recheck_primary() {
    const int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
    {
      std::lock_guard lock(mu);
      if (now - primary_checked_ns < 1'000'000'000) co_return;
      primary_checked_ns = now;
    }
    auto found = co_await find_primary();
    if (!found) co_return;  // Sentinels away: keep what works
    std::lock_guard lock(mu);
    if (*found == primary) co_return;
    if (!primary.first.empty())
      logging::warn("redis sentinel: primary '{}' moved from {}:{} to {}:{}", endpoint.master, primary.first,
                    primary.second, found->first, found->second);
    primary = *found;
    ++generation;
    open -= idle.size();
    idle.clear();
  }

  asio::awaitable<core::Result<std::unique_ptr<Connection>>> connect() {
    std::string host = endpoint.host, port = endpoint.port;
    uint64_t opened_generation = 0;
    if (!endpoint.sentinels.empty()) {
      {
        std::lock_guard lock(mu);
        std::tie(host, port) = primary;
        opened_generation = generation;
      }
      if (host.empty()) {
        auto found = co_await find_primary();
        if (!found) co_return std::unexpected(found.error());
        std::tie(host, port) = *found;
      }
    }
    auto opened = co_await open_stream(host, port, tls_context != nullptr);
    if (!opened) co_return std::unexpected(opened.error());
    auto c = std::move(*opened);
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
    if (!endpoint.sentinels.empty()) {
      append_command(hello, {"ROLE"});
      sent.push_back("ROLE");
    }
    if (!sent.empty()) {
      auto replies = co_await exchange(*c, hello, sent.size(), options.command_timeout);
      if (!replies) co_return std::unexpected(replies.error());
      for (size_t i = 0; i < sent.size(); ++i)
        if ((*replies)[i].is_error())
          co_return core::fail(core::Errc::unavailable,
                               fmt::format("redis {}:{}: {} refused: {}", host, port, sent[i], (*replies)[i].text));
      // A Sentinel's answer may be a moment old: a demoted primary is not used.
      if (const Reply& role = replies->back(); !endpoint.sentinels.empty() &&
                                               (role.elements.empty() || role.elements[0].text != "master"))
        co_return core::fail(core::Errc::unavailable,
                             fmt::format("redis {}:{}: the Sentinels' primary '{}' is not one (ROLE {})", host, port,
                                         endpoint.master, role.elements.empty() ? role.describe() : role.elements[0].text));
    }
    logging::debug("redis {}:{}: connected", host, port);
    c->generation = opened_generation;
    co_return c;
  }

  void release(std::unique_ptr<Connection> c, bool healthy) {
    std::lock_guard lock(mu);
    if (healthy && c->generation == generation && idle.size() < options.max_idle && c->decoder.buffered() == 0) {
      idle.push_back(std::move(c));
      return;
    }
    --open;
  }

  asio::io_context& io;
  const ClientOptions options;
  const Endpoint endpoint;
  std::unique_ptr<asio::ssl::context> tls_context;  // rediss:// only
  // redis+sentinel://: the primary last found, when, and how many times it moved.
  std::pair<std::string, std::string> primary;
  int64_t primary_checked_ns = 0;
  uint64_t generation = 0;
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
  // READONLY: the server was demoted (a failover); the next connection finds the primary.
  bool healthy = replies.has_value();
  if (replies)
    for (const auto& r : *replies) healthy = healthy && !(r.is_error() && r.text.starts_with("READONLY"));
  impl->release(std::move(*conn), healthy);
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
