#include "alerts/bearer.h"

#include <openssl/crypto.h>

#include <cctype>
#include <string_view>

namespace sluice::alerts {

// The scheme is case-insensitive (RFC 9110 section 11.1); the token is
// compared in constant time.
bool bearer_ok(const admin::Request& req, const std::string& token) {
  if (token.empty()) return true;
  const std::string* h = req.header("authorization");
  constexpr std::string_view scheme = "bearer ";
  if (!h || h->size() != scheme.size() + token.size()) return false;
  for (size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>((*h)[i])) != scheme[i]) return false;
  return CRYPTO_memcmp(h->data() + scheme.size(), token.data(), token.size()) == 0;
}

admin::Response bearer_refused() {
  auto r = admin::Response::error(401, "missing or wrong bearer token");
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

admin::Server::AsyncHandler with_bearer(std::string token, admin::Server::AsyncHandler handler) {
  return [token = std::move(token), handler = std::move(handler)](const admin::Request& req)
             -> boost::asio::awaitable<admin::Response> {
    if (!bearer_ok(req, token)) co_return bearer_refused();
    co_return co_await handler(req);
  };
}

}  // namespace sluice::alerts
