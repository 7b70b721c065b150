#include "alerts/bearer.h"

#include <openssl/crypto.h>

namespace sluice::alerts {

bool bearer_ok(const admin::Request& req, const std::string& token) {
  if (token.empty()) return true;
  const std::string* h = req.header("authorization");
  const std::string want = "Bearer " + token;
  return h && h->size() == want.size() && CRYPTO_memcmp(h->data(), want.data(), want.size()) == 0;
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
