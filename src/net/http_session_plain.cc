// The session over plain TCP (see http_session.h).
#include "net/http_session.h"

namespace sluice::net::detail {

asio::awaitable<void> serve_plain(std::shared_ptr<ServerState> state, tcp::socket socket) {
  Counted count(state->open);
  beast::tcp_stream stream(std::move(socket));
  auto owner = state;  // `state` outlives the session: `count` still needs it
  co_await session(std::move(owner), stream);
}

}  // namespace sluice::net::detail
