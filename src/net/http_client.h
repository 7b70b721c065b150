#pragma once
// The shared HTTP/1.1 client: keep-alive connections pooled per host
// (scheme, host, port), at most max_connections_per_host of them open, TLS
// with certificate and host-name verification (system CA bundle, or ca_file),
// and connect / request timeouts.
//
// A request on a reused connection that the server had closed meanwhile is
// retried once on a fresh connection (nothing was answered, so nothing was
// processed twice by an HTTP/1.1 server that closed an idle connection).
//
// Per request: `timeout` replaces the client's request_timeout (a 20 s long
// poll needs more than a 5 s API call), and `cancel` ends it early from any
// thread (an input's close() during a long poll) with Errc::closed.
//
// Outputs and inputs get their client through BuildContext::http_client(),
// as the narrow HttpTransport, so unit tests hand them a fake.
//
// Threads: request() may be called from any coroutine on the io_context.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "net/headers.h"

namespace boost::asio {
class io_context;
}

namespace sluice::net {

// Cancels every request that carries it, from any thread; requests started
// after cancel() fail at once. One per input, cancelled by its close().
class Cancellation {
 public:
  void cancel();
  bool cancelled() const;
  // For the client: `on_cancel` runs once, on cancel()'s thread (at once if
  // already cancelled), unless unsubscribed first.
  uint64_t subscribe(std::function<void()> on_cancel);
  void unsubscribe(uint64_t id);

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;
  uint64_t next_ = 1;
  std::map<uint64_t, std::function<void()>> subscribers_;
};

struct ClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::nanoseconds timeout{0};  // 0: the client's request_timeout
  std::shared_ptr<Cancellation> cancel;  // optional
};

struct ClientResponse {
  int status = 0;
  Headers headers;  // names lower-cased
  std::string body;
  const std::string* header(std::string_view lower_name) const { return find_header(headers, lower_name); }
};

struct HttpClientOptions {
  std::chrono::nanoseconds connect_timeout = std::chrono::seconds(5);
  std::chrono::nanoseconds request_timeout = std::chrono::seconds(30);
  size_t max_connections_per_host = 64;
  std::chrono::nanoseconds idle_ttl = std::chrono::seconds(30);  // idle pooled connections older are closed
  size_t max_response_body = 16 << 20;
  bool verify_tls = true;
  std::string ca_file;  // empty: the system's CA bundle
};

// What a component needs of an HTTP client; fakes implement it in tests.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Errors: Errc::timeout, Errc::unavailable (connect/TLS/reset),
  // Errc::invalid_payload (bad URL or response), Errc::closed (cancelled).
  virtual boost::asio::awaitable<core::Result<ClientResponse>> request(ClientRequest req) = 0;
};

class HttpClient final : public HttpTransport {
 public:
  HttpClient(boost::asio::io_context& io, HttpClientOptions options);
  ~HttpClient() override;

  boost::asio::awaitable<core::Result<ClientResponse>> request(ClientRequest req) override;
  size_t open_connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Basic auth header value: "Basic base64(user:password)".
std::string basic_auth(std::string_view user, std::string_view password);

// Why requests to `url` cannot be made (not an absolute URL, not http or
// https, no host), as HttpClient would refuse them; nothing when they can.
// For config checks, so lint refuses what a request would.
std::optional<std::string> url_problem(const std::string& url);

}  // namespace sluice::net
