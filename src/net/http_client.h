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
// Threads: request() may be called from any coroutine on the io_context.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "net/headers.h"

namespace boost::asio {
class io_context;
}

namespace sluice::net {

struct ClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
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

class HttpClient {
 public:
  HttpClient(boost::asio::io_context& io, HttpClientOptions options);
  ~HttpClient();

  // Errors: Errc::timeout, Errc::unavailable (connect/TLS/reset), Errc::invalid_payload (bad URL or response).
  boost::asio::awaitable<core::Result<ClientResponse>> request(ClientRequest req);
  size_t open_connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Basic auth header value: "Basic base64(user:password)".
std::string basic_auth(std::string_view user, std::string_view password);

}  // namespace sluice::net
