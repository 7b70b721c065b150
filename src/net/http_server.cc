#include "net/http_server.h"

#include <sys/resource.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>

namespace sluice::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using asio::use_awaitable;

HttpResponse HttpResponse::error(int status, std::string_view message) {
  return json(status, boost::json::serialize(boost::json::value{{"error", message}}));
}

namespace {

tcp::endpoint parse_endpoint(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("address must be host:port, got '" + address + "'");
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  uint16_t port = 0;
  auto port_text = std::string_view(address).substr(colon + 1);
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size())
    throw std::runtime_error("bad port in address '" + address + "'");
  boost::system::error_code aec;
  auto ip = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, aec);
  if (aec) throw std::runtime_error("address host must be an IP address, got '" + host + "'");
  return {ip, port};
}

// Many idle keep-alive connections are normal for a webhook endpoint: allow
// as many descriptors as the hard limit permits.
void raise_descriptor_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

http::response<http::string_body> to_beast(HttpResponse r, unsigned version, const std::string& server) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, server);
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  for (auto& [k, v] : r.headers) res.set(k, v);
  res.body() = std::move(r.body);
  res.prepare_payload();
  return res;
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_, HttpServerOptions o, Handler h)
      : io(io_), options(std::move(o)), handler(std::move(h)), acceptor(io_), stopping(io_, 0) {
    raise_descriptor_limit();
    if (!options.tls_cert_file.empty()) {
      tls.emplace(asio::ssl::context::tls_server);
      tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
      boost::system::error_code ec;
      tls->use_certificate_chain_file(options.tls_cert_file, ec);
      if (ec) throw std::runtime_error(fmt::format("TLS certificate {}: {}", options.tls_cert_file, ec.message()));
      tls->use_private_key_file(options.tls_key_file, asio::ssl::context::pem, ec);
      if (ec) throw std::runtime_error(fmt::format("TLS key {}: {}", options.tls_key_file, ec.message()));
    }
    auto ep = parse_endpoint(options.address);
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    boost::system::error_code ec;
    acceptor.bind(ep, ec);
    if (ec) throw std::runtime_error(fmt::format("cannot listen on {}: {}", options.address, ec.message()));
    acceptor.listen(asio::socket_base::max_listen_connections);
  }

  asio::io_context& io;
  HttpServerOptions options;
  Handler handler;
  tcp::acceptor acceptor;
  std::optional<asio::ssl::context> tls;
  std::atomic<bool> stopped{false};
  std::atomic<size_t> open{0};
  // Closed by stop(): wakes every connection waiting idle for a request, so
  // they close now instead of at their idle timeout. A channel because
  // closing it is thread-safe; closing their sockets from here would not be.
  asio::experimental::concurrent_channel<void(boost::system::error_code)> stopping;

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(use_awaitable));
      if (ec) {
        if (stopped || ec == asio::error::operation_aborted) co_return;
        spdlog::warn("http {}: accept failed: {}", options.address, ec.message());
        if (ec == asio::error::no_descriptors) {
          asio::steady_timer pause(io, std::chrono::milliseconds(50));
          co_await pause.async_wait(asio::as_tuple(use_awaitable));
        }
        continue;
      }
      asio::co_spawn(io, serve(shared_from_this(), std::move(socket)), asio::detached);
    }
  }

  // Answers an error and closes without the kernel resetting the connection
  // under a client that is still sending: stop sending, drain for a moment,
  // then close (nginx's lingering_close).
  template <class Stream>
  static asio::awaitable<void> refuse(Stream& stream, HttpResponse r, const std::string& server) {
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

  static asio::awaitable<void> serve(std::shared_ptr<Impl> self, tcp::socket socket) {
    struct Count {
      std::atomic<size_t>& n;
      explicit Count(std::atomic<size_t>& c) : n(c) { ++n; }
      ~Count() { --n; }
    } count(self->open);
    const auto& o = self->options;
    beast::tcp_stream plain(std::move(socket));
    auto owner = self;  // named, not copied inside co_await (see async/blocking.h)
    if (!self->tls) {
      co_await session(std::move(owner), plain);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> secure(std::move(plain), *self->tls);
    beast::get_lowest_layer(secure).expires_after(o.request_timeout);
    auto [hec] = co_await secure.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(use_awaitable));
    if (hec) co_return;  // not TLS, or a bad handshake: nothing to answer
    co_await session(std::move(owner), secure);
  }

  // One connection's requests, over plain TCP or TLS.
  template <class Stream>
  static asio::awaitable<void> session(std::shared_ptr<Impl> self, Stream& stream) {
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
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(use_awaitable));
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
      req.target = std::string(msg.target());
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
        spdlog::error("http {} {}: handler failed: {}", req.method, req.path, e.what());
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
};

HttpServer::HttpServer(asio::io_context& io, HttpServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() { asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached); }

void HttpServer::stop() {
  if (impl_->stopped.exchange(true)) return;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  impl_->stopping.close();
}

std::string HttpServer::address() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  if (ec) return "?";
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

}  // namespace sluice::net
