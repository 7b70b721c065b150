#include "net/http_server.h"

#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <span>

#include "core/listen_address.h"
#include "core/utf8.h"
#include "logging/log.h"
#include "net/http_session.h"

namespace sluice::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::use_awaitable;

HttpResponse HttpResponse::error(int status, std::string_view message) {
  // Messages echo what a client sent (a Host, a field name): escaped, so the
  // answer is valid UTF-8 JSON whatever the bytes were.
  return json(status, boost::json::serialize(boost::json::value{{"error", core::printable(message)}}));
}

namespace {

std::string trimmed_lower(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// The comma-separated tokens of every field `name`, trimmed, lower-cased.
std::vector<std::string> tokens_of(const detail::http::request<detail::http::string_body>& head,
                                   detail::http::field name) {
  std::vector<std::string> out;
  for (auto [it, end] = head.equal_range(name); it != end; ++it) {
    std::string_view v = it->value();
    for (size_t start = 0; start <= v.size();) {
      const size_t comma = std::min(v.find(',', start), v.size());
      if (auto t = trimmed_lower(v.substr(start, comma - start)); !t.empty()) out.push_back(std::move(t));
      start = comma + 1;
    }
  }
  return out;
}

}  // namespace

std::string HttpRequest::media_type() const {
  const std::string* type = header("content-type");
  return type ? trimmed_lower(std::string_view(*type).substr(0, type->find(';'))) : std::string();
}

namespace detail {

std::optional<HttpResponse> refusal_of_head(const http::request<http::string_body>& head) {
  const auto [first_host, end_host] = head.equal_range(http::field::host);
  const auto hosts = std::distance(first_host, end_host);
  if (hosts > 1) return HttpResponse::error(400, "more than one Host header");  // RFC 9112 3.2
  if (hosts == 0 && head.version() >= 11) return HttpResponse::error(400, "HTTP/1.1 requires a Host header");
  // RFC 9112 6.3: a Transfer-Encoding whose final coding is not chunked
  // leaves the body's length unknown; 6.1: codings we do not implement get
  // 501. Beast already refuses Transfer-Encoding together with
  // Content-Length.
  const auto codings = tokens_of(head, http::field::transfer_encoding);
  if (!codings.empty()) {
    if (codings.back() != "chunked")
      return HttpResponse::error(400, "Transfer-Encoding must end in chunked");
    const std::span earlier(codings.data(), codings.size() - 1);
    if (std::ranges::find(earlier, "chunked") != earlier.end())
      return HttpResponse::error(400, "chunked applied more than once");
    if (!earlier.empty())
      return HttpResponse::error(501, "transfer coding '" + earlier.front().substr(0, 32) + "' is not supported");
  }
  // RFC 9110 15.5.16: a content coding the server does not accept is 415,
  // and Accept-Encoding says what it does accept (RFC 7694).
  for (const auto& coding : tokens_of(head, http::field::content_encoding)) {
    if (coding == "identity") continue;
    auto r = HttpResponse::error(415, "Content-Encoding '" + coding.substr(0, 32) + "' is not supported; send the body "
                                      "uncompressed");
    r.headers.emplace_back("Accept-Encoding", "identity");
    return r;
  }
  return std::nullopt;
}

}  // namespace detail

namespace {

tcp::endpoint parse_endpoint(const std::string& address) {
  auto parsed = core::parse_listen_address(address);
  if (!parsed) throw std::runtime_error(parsed.error());
  return {asio::ip::make_address(parsed->host), parsed->port};
}

// Many idle keep-alive connections are normal for a webhook endpoint: allow
// as many descriptors as the hard limit permits. Returns the limit now.
size_t raise_descriptor_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur == RLIM_INFINITY ? size_t{1} << 20 : static_cast<size_t>(lim.rlim_cur);
}

// The default max_connections: the descriptor limit less room for what
// else the process opens (stores, outgoing clients, the admin API, logs),
// so that connections are refused or shed with an answer before accept()
// runs out of descriptors.
size_t connections_within(size_t descriptor_limit) {
  const size_t headroom = std::max<size_t>(256, descriptor_limit / 10);
  return descriptor_limit > headroom + 16 ? descriptor_limit - headroom : 16;
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_, HttpServerOptions o, Handler h)
      : io(io_), state(std::make_shared<detail::ServerState>(std::move(o), std::move(h))), acceptor(io_) {
    auto& options = state->options;
    const size_t budget = connections_within(raise_descriptor_limit());
    options.max_connections = options.max_connections ? std::min(options.max_connections, budget) : budget;
    if (!options.tls_cert_file.empty()) {
      tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
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
  std::shared_ptr<detail::ServerState> state;
  tcp::acceptor acceptor;
  std::shared_ptr<asio::ssl::context> tls;

  // Holds the server until the acceptor is closed and its last accept ended.
  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
    auto& acceptor = self->acceptor;
    auto& state = self->state;
    auto& tls = self->tls;
    auto& io = self->io;
    for (;;) {
      // Each connection on its own strand: see detail::Connections.
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io), asio::as_tuple(use_awaitable));
      if (ec) {
        if (state->stopped || ec == asio::error::operation_aborted) co_return;
        // Out of descriptors (EMFILE/ENFILE): close the oldest idle
        // connection and pause accepting a moment, instead of spinning;
        // connections keep being served meanwhile.
        const bool out_of_descriptors = ec == asio::error::no_descriptors || ec.value() == ENFILE;
        const bool shed = out_of_descriptors && state->connections->shed_oldest_idle();
        logging::limited(logging::Level::warn, "http-accept:" + state->options.address,
                         fmt::format("http {}: accept failed: {}{}", state->options.address, ec.message(),
                                     !out_of_descriptors ? ""
                                     : shed              ? "; closing the oldest idle connection, pausing accepts"
                                                         : "; no idle connection to close, pausing accepts"));
        asio::steady_timer pause(io, std::chrono::milliseconds(out_of_descriptors ? 50 : 5));
        co_await pause.async_wait(asio::as_tuple(use_awaitable));
        continue;
      }
      auto strand = socket.get_executor();
      if (tls) {
        asio::co_spawn(strand, detail::serve_tls(state, tls, std::move(socket)), asio::detached);
      } else {
        asio::co_spawn(strand, detail::serve_plain(state, std::move(socket)), asio::detached);
      }
    }
  }
};

HttpServer::HttpServer(asio::io_context& io, HttpServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() { asio::co_spawn(impl_->io, Impl::accept_loop(impl_), asio::detached); }

void HttpServer::stop() {
  if (impl_->state->stopped.exchange(true)) return;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  impl_->state->connections->wake_idle();
}

asio::awaitable<bool> HttpServer::answered(std::chrono::nanoseconds limit) {
  // Polled: shutdown is rare, and a counter needs no waiter list kept
  // consistent with every session.
  const auto deadline = std::chrono::steady_clock::now() + limit;
  asio::steady_timer tick(co_await asio::this_coro::executor);
  while (impl_->state->answering.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    tick.expires_after(std::chrono::milliseconds(5));
    co_await tick.async_wait(asio::as_tuple(use_awaitable));
  }
  co_return true;
}

std::string HttpServer::address() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  if (ec) return "?";
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

}  // namespace sluice::net
