// The session over TLS (see http_session.h): handshake, then the same session.
#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

#include "net/http_session.h"

namespace sluice::net::detail {

asio::awaitable<void> serve_tls(std::shared_ptr<ServerState> state, std::shared_ptr<asio::ssl::context> tls,
                                tcp::socket socket) {
  Counted count(state->open);
  beast::ssl_stream<beast::tcp_stream> secure(beast::tcp_stream(std::move(socket)), *tls);
  beast::get_lowest_layer(secure).expires_after(state->options.request_timeout);
  auto [hec] = co_await secure.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(use_awaitable));
  if (hec) co_return;  // not TLS, or a bad handshake: nothing to answer
  auto owner = state;  // `state` outlives the session: `count` still needs it
  co_await session(std::move(owner), secure);
}

}  // namespace sluice::net::detail
