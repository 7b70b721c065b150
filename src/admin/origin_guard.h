#pragma once
// What a web page on another site must not make the admin API do. The API
// listens on loopback without a token by default, and a browser will send
// requests there for any page it visits:
// - DNS rebinding: a page on evil.example whose name then resolves to
//   127.0.0.1 reads and writes the API as a same-origin page would. So the
//   Host header must be an IP address, `localhost`, or a name in
//   `admin.hosts`.
// - Cross-site requests: a form or a no-cors fetch from another origin can
//   POST (text/plain, form encodings) without reading the answer. So a
//   request that changes anything (not GET or HEAD) is refused when
//   Sec-Fetch-Site says cross-site or same-site, or its Origin is not this
//   server's, and it must send a JSON or CSV body type, which no form can.
// The CLI and scripts send no Origin or Sec-Fetch-Site and pass.

#include <optional>
#include <string>
#include <vector>

#include "net/http_server.h"

namespace sluice::admin {

// 421 for a Host that is not an IP address, localhost or one of `hosts`.
std::optional<net::HttpResponse> refuse_unknown_host(const net::HttpRequest& req, const std::vector<std::string>& hosts);
// For a request that changes something: 403 from another site, 415 for a
// body type a form could send.
std::optional<net::HttpResponse> refuse_cross_site(const net::HttpRequest& req);

}  // namespace sluice::admin
