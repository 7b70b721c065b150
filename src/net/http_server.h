#pragma once
// A small HTTP/1.1 server (Beast) for the admin API and the http_server
// input: keep-alive, and limits that answer with clear statuses instead of
// letting a client exhaust us:
//   body over max_body -> 413, headers over max_header -> 431,
//   malformed request -> 400 (also: HTTP/1.1 without exactly one Host, a
//   Transfer-Encoding that does not end in chunked), a transfer coding other
//   than chunked -> 501, a Content-Encoding other than identity -> 415
//   (each closes the connection: the body's framing is unknown),
//   a request not complete within request_timeout or a connection idle for
//   idle_timeout -> connection closed,
//   more than max_connections -> the oldest idle connection is closed, or
//   503 with Retry-After when none is idle; out of descriptors -> the same,
//   and accepting pauses for 50 ms (logged at most every 5 s).
// Optional TLS (TLS 1.2 and later) from PEM certificate and key files.
//
// The handler is a coroutine, so it may wait (e.g. for a message's ack)
// without holding a thread. Lifecycle: constructed bound (throws
// std::runtime_error when the address is taken), start(), stop().
// Threads: connections run on the io_context's threads; handlers must be
// thread-safe.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "net/headers.h"

namespace boost::asio {
class io_context;
}

namespace sluice::net {

struct HttpRequest {
  std::string method;
  std::string path;    // without the query string
  std::string query;   // after '?', undecoded
  Headers headers;  // names lower-cased
  std::string body;
  const std::string* header(std::string_view lower_name) const { return find_header(headers, lower_name); }
  // Content-Type without its parameters, lower-cased and trimmed (media
  // types are case-insensitive): "application/json", or "" when absent.
  std::string media_type() const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse json(int status, std::string body) { return {status, "application/json", std::move(body), {}}; }
  static HttpResponse error(int status, std::string_view message);  // {"error": message}
};

struct HttpServerOptions {
  std::string address = "127.0.0.1:0";  // host:port; port 0 picks a free one
  size_t max_body = 1 << 20;
  // When set, asked once a request's headers are in: that request's body
  // limit instead of max_body (the admin server lets POST /api/alerts take a
  // million recipients while every other route keeps 1 MiB).
  std::function<size_t(std::string_view method, std::string_view target)> body_limit_for;
  size_t max_header = 16 << 10;
  std::chrono::nanoseconds request_timeout = std::chrono::seconds(10);
  std::chrono::nanoseconds idle_timeout = std::chrono::seconds(60);
  // Open connections at most: above it a new connection closes the oldest
  // idle one, or is answered 503 when none is idle. 0, and any value
  // above it: the descriptor limit (raised to the hard limit) less headroom.
  size_t max_connections = 0;
  std::string server_name = "sluice";
  // Told the status of each answer the server makes itself, without the
  // handler (400 malformed, 413, 431, 415/501 unsupported codings, 503 too
  // many connections), so they can be counted with the handler's answers.
  std::function<void(int status)> on_refused;
  // TLS when both are set: PEM certificate chain and private key.
  std::string tls_cert_file;
  std::string tls_key_file;
};

class HttpServer {
 public:
  using Handler = std::function<boost::asio::awaitable<HttpResponse>(HttpRequest&)>;

  HttpServer(boost::asio::io_context& io, HttpServerOptions options, Handler handler);
  ~HttpServer();

  void start();
  // Stops accepting and closes idle keep-alive connections. Requests that
  // arrive later are answered 503 (Retry-After) without reaching the handler.
  void stop();
  // After stop(): returns once every request handed to the handler has
  // been answered on the wire (or its connection failed), or after `limit`.
  // Then the handler is never called again, so its owner may go.
  boost::asio::awaitable<bool> answered(std::chrono::nanoseconds limit);
  std::string address() const;  // host:port actually bound

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::net
