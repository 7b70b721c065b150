#include "net/tls_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sluice::net {

namespace ssl = boost::asio::ssl;

void configure_tls_client(ssl::context& ctx, bool verify, const std::string& ca_file) {
  if (!verify) {
    ctx.set_verify_mode(ssl::verify_none);
    return;
  }
  ctx.set_verify_mode(ssl::verify_peer);
  if (ca_file.empty())
    ctx.set_default_verify_paths();
  else
    ctx.load_verify_file(ca_file);
}

boost::asio::awaitable<boost::system::error_code> tls_client_handshake(
    boost::beast::ssl_stream<boost::beast::tcp_stream>& s, const std::string& host, bool verify) {
  if (!SSL_set_tlsext_host_name(s.native_handle(), host.c_str()))
    co_return boost::system::error_code(static_cast<int>(::ERR_get_error()), boost::asio::error::get_ssl_category());
  if (verify) s.set_verify_callback(ssl::host_name_verification(host));
  auto [ec] = co_await s.async_handshake(ssl::stream_base::client,
                                         boost::asio::as_tuple(boost::asio::use_awaitable));
  co_return ec;
}

}  // namespace sluice::net
