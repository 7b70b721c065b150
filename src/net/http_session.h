#pragma once
// Inside net/: one connection's session, shared by the plain and the TLS
// servers. The session is a template over the stream; http_session_plain.cc
// and http_session_tls.cc each instantiate it for one stream type, so the two
// (the heaviest Beast code we have) compile in parallel, and only
// http_server.cc holds the acceptor.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <atomic>
#include <limits>
#include <map>
#include <optional>
#include <mutex>

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

// Every live connection of one server, oldest first, so that stop() can wake
// the idle ones (they close now instead of at their idle timeout). Each
// session runs on its own strand, and a wake-up is posted to that strand:
// only there may its socket be touched, and a closed socket's descriptor
// number, reused by another connection, is never touched at all.
class Connections : public std::enable_shared_from_this<Connections> {
 public:
  struct Entry {
    asio::any_io_executor strand;
    tcp::socket* socket;         // touched on the strand only
    const std::atomic<bool>* idle;
    bool shed = false;           // chosen by shed_oldest_idle() already
  };
  uint64_t add(Entry e) {
    std::lock_guard lock(mu_);
    live_.emplace(next_, e);
    return next_++;
  }
  void remove(uint64_t id) {
    std::lock_guard lock(mu_);
    live_.erase(id);
  }
  // Cancels the pending read of every connection waiting idle for a request.
  void wake_idle() {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : live_) post_cancel(e, id);
  }
  // Closes the oldest connection waiting idle, to make room for a new one
  // (as nginx reuses keep-alive connections when it runs short); false when
  // none is idle.
  bool shed_oldest_idle() {
    std::lock_guard lock(mu_);
    for (auto& [id, e] : live_) {
      if (e.shed || !e.idle->load(std::memory_order_relaxed)) continue;
      e.shed = true;
      post_cancel(e, id);
      return true;
    }
    return false;
  }

 private:
  void post_cancel(const Entry& e, uint64_t id) {
    asio::post(e.strand, [self = shared_from_this(), id] { self->cancel_if_idle(id); });
  }
  void cancel_if_idle(uint64_t id) {  // on that connection's strand
    std::lock_guard lock(mu_);
    auto it = live_.find(id);
    if (it == live_.end() || !it->second.idle->load(std::memory_order_relaxed)) return;
    boost::system::error_code ignored;
    it->second.socket->cancel(ignored);
  }
  std::mutex mu_;
  uint64_t next_ = 0;
  std::map<uint64_t, Entry> live_;
};

// What every connection of one server shares.
struct ServerState {
  ServerState(HttpServerOptions o, HttpServer::Handler h) : options(std::move(o)), handler(std::move(h)) {}
  HttpServerOptions options;
  HttpServer::Handler handler;
  std::atomic<bool> stopped{false};
  std::atomic<size_t> open{0};
  // Requests handed to the handler and not yet answered on the wire;
  // HttpServer::answered() waits for none.
  std::atomic<size_t> answering{0};
  std::shared_ptr<Connections> connections = std::make_shared<Connections>();
  void count(int status) const {
    if (options.on_refused) options.on_refused(status);
  }
};

// Counts a connection (ServerState::open) or an answer in progress
// (ServerState::answering) while it lives.
struct Counted {
  std::atomic<size_t>& n;
  explicit Counted(std::atomic<size_t>& c) : n(c) { ++n; }
  ~Counted() { --n; }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
};

// Lists a session in ServerState::connections while it lives. Destroyed on
// the session's strand, before its socket.
class ListedConnection {
 public:
  ListedConnection(Connections& c, tcp::socket& socket)
      : connections_(c), id_(c.add({socket.get_executor(), &socket, &idle})) {}
  ~ListedConnection() { connections_.remove(id_); }
  ListedConnection(const ListedConnection&) = delete;
  ListedConnection& operator=(const ListedConnection&) = delete;
  std::atomic<bool> idle{false};  // written on the strand; read by shed_oldest_idle()

 private:
  Connections& connections_;
  uint64_t id_;
};

asio::awaitable<void> serve_plain(std::shared_ptr<ServerState> state, tcp::socket socket);
asio::awaitable<void> serve_tls(std::shared_ptr<ServerState> state, std::shared_ptr<asio::ssl::context> tls,
                                tcp::socket socket);

// The response as it goes on the wire: a head written here (cheaper than
// Beast's serializer, which showed in profiles) and the body.
struct WireResponse {
  std::string head;
  std::string body;
  bool keep_alive;
  std::array<asio::const_buffer, 2> buffers() const { return {asio::buffer(head), asio::buffer(body)}; }
};

inline WireResponse wire_response(HttpResponse r, unsigned version, const std::string& server, bool keep_alive,
                                  bool head_request) {
  // Header values are ours, but a line break in one would split the
  // response: such a header is left out.
  auto safe = [](std::string_view v) { return v.find_first_of("\r\n") == std::string_view::npos; };
  WireResponse w{.head = {}, .body = std::move(r.body), .keep_alive = keep_alive};
  std::string& h = w.head;
  h.reserve(160);
  h += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  h += std::to_string(r.status);
  h += ' ';
  h += http::obsolete_reason(static_cast<http::status>(r.status));
  h += "\r\nServer: ";
  h += server;
  // RFC 9110 6.4.1: no content and no Content-Length in 1xx, 204 and 304.
  const bool no_content = r.status < 200 || r.status == 204 || r.status == 304;
  if (!r.content_type.empty() && !no_content && safe(r.content_type)) {
    h += "\r\nContent-Type: ";
    h += r.content_type;
  }
  for (const auto& [k, v] : r.headers) {
    if (!safe(k) || !safe(v)) continue;
    h += "\r\n";
    h += k;
    h += ": ";
    h += v;
  }
  if (no_content) {
    w.body.clear();
  } else {
    h += "\r\nContent-Length: ";
    h += std::to_string(w.body.size());
  }
  if (!keep_alive) h += "\r\nConnection: close";
  else if (version == 10) h += "\r\nConnection: keep-alive";
  h += "\r\n\r\n";
  if (head_request) w.body.clear();  // RFC 9110 9.3.2: the same head, no content
  return w;
}

template <class Stream>
asio::awaitable<boost::system::error_code> write_response(Stream& stream, const WireResponse& w) {
  auto [ec, n] = co_await asio::async_write(stream, w.buffers(), asio::as_tuple(use_awaitable));
  co_return ec;
}

// Answers an error the server makes itself (counted through on_refused)
// and closes without the kernel resetting the connection under a client that
// is still sending: stop sending, drain for a moment, then close (nginx's
// lingering_close).
template <class Stream>
asio::awaitable<void> refuse(Stream& stream, const ServerState& server, HttpResponse r) {
  server.count(r.status);
  const auto w = wire_response(std::move(r), 11, server.options.server_name, false, false);
  co_await write_response(stream, w);  // named: see async/blocking.h
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


// What a request's head must not be (RFC 9112 and 9110), answered before
// its body is read; the connection is closed after, since the body's framing
// is not known. Implemented in http_server.cc.
std::optional<HttpResponse> refusal_of_head(const http::request<http::string_body>& head);

// One connection's requests, over plain TCP or TLS.
template <class Stream>
asio::awaitable<void> session(std::shared_ptr<ServerState> self, Stream& stream) {
  const auto& o = self->options;
  auto& tcp_layer = beast::get_lowest_layer(stream);
  ListedConnection listed(*self->connections, tcp_layer.socket());
  if (self->open.load() > o.max_connections && !self->connections->shed_oldest_idle()) {
    auto r = HttpResponse::error(503, "too many connections");
    r.headers.emplace_back("Retry-After", "1");
    co_await refuse(stream, *self, std::move(r));
    co_return;
  }
  // Debug lines name the peer; its address is formatted only when they are on.
  std::string peer;
  if (logging::enabled(logging::Level::debug)) {
    boost::system::error_code ignored;
    const auto ep = tcp_layer.socket().remote_endpoint(ignored);
    peer = ep.address().to_string() + ":" + std::to_string(ep.port());
    logging::debug("http {}: connection from {} ({} open)", o.address, peer, self->open.load());
  }
  size_t requests = 0;
  beast::flat_buffer buffer;
  for (;;) {
    // Idle: wait for the first byte of the next request. stop() cancels
    // this read; it sets `stopped` before, so a session that turns idle
    // after the wake-up went by sees the flag instead.
    if (buffer.size() == 0) {
      listed.idle.store(true, std::memory_order_relaxed);
      if (self->stopped) break;
      tcp_layer.expires_after(o.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), asio::as_tuple(use_awaitable));
      listed.idle.store(false, std::memory_order_relaxed);
      if (ec) break;  // closed, timed out, or woken by stop()
      buffer.commit(n);
    }
    // Then the whole request must arrive within request_timeout: the head
    // first, checked before any of the body is read, then the body.
    http::request_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // set once the head is in
    parser.header_limit(static_cast<uint32_t>(o.max_header));
    tcp_layer.expires_after(o.request_timeout);
    auto [ec, hn] = co_await http::async_read_header(stream, buffer, parser, asio::as_tuple(use_awaitable));
    if (!ec) {
      if (auto refusal = refusal_of_head(parser.get())) {
        co_await refuse(stream, *self, std::move(*refusal));  // named: see async/blocking.h
        break;
      }
      // Beast checks Content-Length against the limit as soon as it is set;
      // a chunked body is counted as it comes.
      const size_t limit = o.body_limit_for ? o.body_limit_for(parser.get().method_string(), parser.get().target())
                                            : o.max_body;
      if (parser.content_length() && *parser.content_length() > limit) ec = http::error::body_limit;
      else parser.body_limit(limit);
    }
    if (!ec) {
      auto [bec, bn] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(use_awaitable));
      ec = bec;
    }
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      auto r = ec == http::error::body_limit ? HttpResponse::error(413, "body too large")
                                             : HttpResponse::error(431, "headers too large");
      co_await refuse(stream, *self, std::move(r));  // named: see async/blocking.h
      break;
    }
    // beast::error::timeout: the stream has already closed the socket; a
    // client too slow to send its request is simply cut off.
    if (ec) {
      if (ec != http::error::end_of_stream && ec != asio::error::eof && ec != asio::error::operation_aborted &&
          ec != asio::error::connection_reset && ec != beast::error::timeout) {
        auto r = HttpResponse::error(400, "bad request: " + ec.message());
        co_await refuse(stream, *self, std::move(r));  // named: see async/blocking.h
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
    // Counted before `stopped` is read: answered(), which reads them the
    // other way round, then either waits for this request or it never
    // reaches a handler that may be gone.
    const Counted answering(self->answering);
    HttpResponse r;
    if (self->stopped) {
      r = HttpResponse::error(503, "shutting down");
      r.headers.emplace_back("Retry-After", "1");
      self->count(503);
    } else {
      try {
        r = co_await self->handler(req);
      } catch (const std::exception& e) {
        logging::error("http {} {}: handler failed: {}", req.method, req.path, e.what());
        r = HttpResponse::error(500, "internal error");
      }
    }
    const auto w = wire_response(std::move(r), version, o.server_name, keep_alive && !self->stopped,
                                 req.method == "HEAD");
    tcp_layer.expires_after(o.request_timeout);
    const auto wec = co_await write_response(stream, w);  // named: see async/blocking.h
    ++requests;
    if (wec || !w.keep_alive) break;
  }
  logging::debug("http {}: connection from {} closed after {} request(s)", o.address, peer, requests);
  boost::system::error_code ignored;
  tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace sluice::net::detail
