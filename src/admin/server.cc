#include "admin/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <vector>

namespace sluice::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using asio::use_awaitable;

namespace {

tcp::endpoint parse_endpoint(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("admin address must be host:port, got '" + address + "'");
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  uint16_t port = 0;
  auto port_text = std::string_view(address).substr(colon + 1);
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size())
    throw std::runtime_error("bad port in admin address '" + address + "'");
  boost::system::error_code aec;
  auto ip = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, aec);
  if (aec) throw std::runtime_error("admin address host must be an IP address, got '" + host + "'");
  return {ip, port};
}

constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr size_t kMaxBody = 1 << 20;
constexpr size_t kMaxHeader = 16 << 10;

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_, const std::string& address) : io(io_), acceptor(io_) {
    auto ep = parse_endpoint(address);
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    boost::system::error_code ec;
    acceptor.bind(ep, ec);
    if (ec) throw std::runtime_error(fmt::format("cannot listen on {}: {}", address, ec.message()));
    acceptor.listen(asio::socket_base::max_listen_connections);
  }

  struct Route {
    std::string method, path;
    bool prefix;
    Handler handler;
  };

  asio::io_context& io;
  tcp::acceptor acceptor;
  std::vector<Route> routes;
  std::atomic<bool> stopped{false};

  Response dispatch(const Request& req) const {
    bool path_known = false;
    for (const auto& r : routes) {
      const bool match = r.prefix ? req.path.starts_with(r.path) : req.path == r.path;
      if (!match) continue;
      path_known = true;
      if (r.method == req.method) {
        try {
          return r.handler(req);
        } catch (const std::exception& e) {
          spdlog::error("admin {} {} failed: {}", req.method, req.path, e.what());
          return {500, "application/json", R"({"error":"internal error"})"};
        }
      }
    }
    if (path_known) return {405, "application/json", R"({"error":"method not allowed"})"};
    return {404, "application/json", R"({"error":"not found"})"};
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(use_awaitable));
      if (ec) {
        if (stopped || ec == asio::error::operation_aborted) co_return;
        spdlog::warn("admin accept failed: {}", ec.message());
        continue;
      }
      asio::co_spawn(io, serve(shared_from_this(), std::move(socket)), asio::detached);
    }
  }

  // After an error answer with request bytes still unread, closing at once
  // would make the kernel reset the connection and the client could lose the
  // answer. Stop sending, drain for a moment, then close (nginx's
  // lingering_close).
  static asio::awaitable<void> linger(beast::tcp_stream& stream) {
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(std::chrono::seconds(2));
    char sink[16 * 1024];
    for (size_t drained = 0; drained < (4u << 20);) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), asio::as_tuple(use_awaitable));
      if (ec) break;
      drained += n;
    }
  }

  static asio::awaitable<void> serve(std::shared_ptr<Impl> self, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(kMaxBody);
      parser.header_limit(kMaxHeader);
      stream.expires_after(kIdleTimeout);
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(use_awaitable));
      if (ec) {
        if (ec == http::error::body_limit || ec == http::error::header_limit) {
          const bool body = ec == http::error::body_limit;
          http::response<http::string_body> res{body ? http::status::payload_too_large
                                                     : http::status::request_header_fields_too_large, 11};
          res.set(http::field::content_type, "application/json");
          res.set(http::field::connection, "close");
          res.body() = body ? R"({"error":"body too large"})" : R"({"error":"headers too large"})";
          res.prepare_payload();
          co_await http::async_write(stream, res, asio::as_tuple(use_awaitable));
          co_await linger(stream);
        } else if (ec != http::error::end_of_stream && ec != beast::error::timeout &&
                   ec != asio::error::operation_aborted && ec != asio::error::connection_reset) {
          http::response<http::string_body> res{http::status::bad_request, 11};
          res.set(http::field::content_type, "application/json");
          res.set(http::field::connection, "close");
          res.body() = fmt::format(R"({{"error":"bad request: {}"}})", ec.message());
          res.prepare_payload();
          co_await http::async_write(stream, res, asio::as_tuple(use_awaitable));
        }
        break;
      }
      auto& msg = parser.get();
      Request req;
      req.method = std::string(msg.method_string());
      std::string_view target = msg.target();
      auto q = target.find('?');
      req.path = std::string(target.substr(0, q));
      if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
      req.body = std::move(msg.body());
      for (const auto& f : msg) {
        std::string name(f.name_string());
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        req.headers[name] = std::string(f.value());
      }
      Response r = self->dispatch(req);
      http::response<http::string_body> res{static_cast<http::status>(r.status), msg.version()};
      res.set(http::field::server, "sluice");
      res.set(http::field::content_type, r.content_type);
      res.set(http::field::cache_control, "no-store");
      res.keep_alive(msg.keep_alive());
      res.body() = std::move(r.body);
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(use_awaitable));
      if (wec || !res.keep_alive() || self->stopped) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }
};

Server::Server(asio::io_context& io, const std::string& address) : impl_(std::make_shared<Impl>(io, address)) {}

Server::~Server() { stop(); }

void Server::route(const std::string& method, const std::string& path, Handler handler) {
  const bool prefix = path.ends_with('*');
  impl_->routes.push_back({method, prefix ? path.substr(0, path.size() - 1) : path, prefix, std::move(handler)});
}

void Server::start() { asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached); }

void Server::stop() {
  if (impl_->stopped.exchange(true)) return;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
}

std::string Server::address() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  if (ec) return "?";
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

}  // namespace sluice::admin
