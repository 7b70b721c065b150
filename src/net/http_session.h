#pragma once
// Inside net/: one connection's session, shared by the plain and the TLS
// servers. The session is a template over the stream; http_session_plain.cc
// and http_session_tls.cc each instantiate it for one stream type, so the two
// (the heaviest Beast code we have) compile in parallel, and only
// http_server.cc holds the acceptor.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <limits>

#include "logging/log.h"
#include "net/http_server.h"

namespace boost::asio::ssl {
class context;
}

namespace sluice::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using asio::use_awaitable;

// What every connection of one server shares.
struct ServerState {
  ServerState(asio::io_context& io, HttpServerOptions o, HttpServer::Handler h)
      : options(std::move(o)), handler(std::move(h)), stopping(io, 0) {}
  HttpServerOptions options;
  HttpServer::Handler handler;
  std::atomic<bool> stopped{false};
  std::atomic<size_t> open{0};
  // Closed by stop(): wakes every connection waiting idle for a request, so
  // they close now instead of at their idle timeout. A channel because
  // closing it is thread-safe; closing their sockets from there would not be.
  asio::experimental::concurrent_channel<void(boost::system::error_code)> stopping;
};

// Counts a connection in ServerState::open while it lives.
struct OpenConnection {
  std::atomic<size_t>& n;
  explicit OpenConnection(std::atomic<size_t>& c) : n(c) { ++n; }
  ~OpenConnection() { --n; }
};

asio::awaitable<void> serve_plain(std::shared_ptr<ServerState> state, tcp::socket socket);
asio::awaitable<void> serve_tls(std::shared_ptr<ServerState> state, std::shared_ptr<asio::ssl::context> tls,
                                tcp::socket socket);

inline http::response<http::string_body> to_beast(HttpResponse r, unsigned version, const std::string& server) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, server);
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  for (auto& [k, v] : r.headers) res.set(k, v);
  res.body() = std::move(r.body);
  res.prepare_payload();
  return res;
}

// Answers an error and closes without the kernel resetting the connection
// under a client that is still sending: stop sending, drain for a moment,
// then close (nginx's lingering_close).
template <class Stream>
asio::awaitable<void> refuse(Stream& stream, HttpResponse r, const std::string& server) {
  r.headers.emplace_back("Connection", "close");
  auto res = to_beast(std::move(r), 11, server);
  co_await http::async_write(stream, res, asio::as_tuple(use_awaitable));
  boost::system::error_code ignored;
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  char sink[16 * 1024];
  for (size_t drained = 0; drained < (4u << 20);) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), asio::as_tuple(use_awaitable));
    if (ec) break;
    drained += n;
  }
}


// One connection's requests, over plain TCP or TLS.
template <class Stream>
asio::awaitable<void> session(std::shared_ptr<ServerState> self, Stream& stream) {
  const auto& o = self->options;
  auto& tcp_layer = beast::get_lowest_layer(stream);
  if (self->open.load() > o.max_connections) {
    auto r = HttpResponse::error(503, "too many connections");
    r.headers.emplace_back("Retry-After", "1");
    co_await refuse(stream, std::move(r), o.server_name);
    co_return;
  }
  beast::flat_buffer buffer;
  for (;;) {
    // Idle: wait for the first byte of the next request, or for stop().
    if (buffer.size() == 0) {
      using namespace asio::experimental::awaitable_operators;
      tcp_layer.expires_after(o.idle_timeout);
      auto first_bytes = stream.async_read_some(buffer.prepare(4096), asio::as_tuple(use_awaitable));
      auto stop = self->stopping.async_receive(asio::as_tuple(use_awaitable));
      auto woke = co_await (std::move(first_bytes) || std::move(stop));  // named: see async/blocking.h
      if (woke.index() == 1) break;  // the server is stopping
      auto [ec, n] = std::get<0>(woke);
      if (ec) break;
      buffer.commit(n);
    }
    // Then the whole request must arrive within request_timeout.
    http::request_parser<http::string_body> parser;
    parser.body_limit(o.max_body);
    parser.header_limit(static_cast<uint32_t>(o.max_header));
    tcp_layer.expires_after(o.request_timeout);
    boost::system::error_code ec;
    if (o.body_limit_for) {
      // Beast checks Content-Length against the limit while it parses the
      // headers, so the route's limit is applied here, once they are in.
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, asio::as_tuple(use_awaitable));
      ec = hec;
      if (!ec) {
        const size_t limit = o.body_limit_for(parser.get().method_string(), parser.get().target());
        if (parser.content_length() && *parser.content_length() > limit) ec = http::error::body_limit;
        else parser.body_limit(limit);  // a chunked body is counted as it comes
      }
    }
    if (!ec) {
      auto [bec, bn] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(use_awaitable));
      ec = bec;
    }
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      auto r = ec == http::error::body_limit ? HttpResponse::error(413, "body too large")
                                             : HttpResponse::error(431, "headers too large");
      co_await refuse(stream, std::move(r), o.server_name);  // named: see async/blocking.h
      break;
    }
    // beast::error::timeout: the stream has already closed the socket; a
    // client too slow to send its request is simply cut off.
    if (ec) {
      if (ec != http::error::end_of_stream && ec != asio::error::eof && ec != asio::error::operation_aborted &&
          ec != asio::error::connection_reset && ec != beast::error::timeout) {
        auto r = HttpResponse::error(400, "bad request: " + ec.message());
        co_await refuse(stream, std::move(r), o.server_name);  // named: see async/blocking.h
      }
      break;
    }
    auto& msg = parser.get();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    std::string_view target = msg.target();
    auto q = target.find('?');
    req.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
    for (const auto& f : msg) {
      std::string name(f.name_string());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.body = std::move(msg.body());
    const bool keep_alive = msg.keep_alive();
    const unsigned version = msg.version();
    // The handler may wait as long as it likes (its own timeouts apply);
    // then the answer must be written within request_timeout.
    tcp_layer.expires_never();
    HttpResponse r;
    try {
      r = co_await self->handler(req);
    } catch (const std::exception& e) {
      logging::error("http {} {}: handler failed: {}", req.method, req.path, e.what());
      r = HttpResponse::error(500, "internal error");
    }
    auto res = to_beast(std::move(r), version, o.server_name);
    res.keep_alive(keep_alive && !self->stopped);
    tcp_layer.expires_after(o.request_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(use_awaitable));
    if (wec || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace sluice::net::detail
