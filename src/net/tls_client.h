#pragma once
// The client side of TLS, shared by the HTTP and Redis clients: a context
// that verifies the server's certificate (the system's CA bundle, or
// `ca_file`), and a handshake that sends SNI and checks the host name.
// Include only from .cc files: it brings in Asio's SSL and Beast.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <string>

namespace sluice::net {

// Throws boost::system::system_error for a CA file that cannot be read.
void configure_tls_client(boost::asio::ssl::context& ctx, bool verify, const std::string& ca_file);

// SNI, then (when verifying) the host name check, then the handshake.
boost::asio::awaitable<boost::system::error_code> tls_client_handshake(
    boost::beast::ssl_stream<boost::beast::tcp_stream>& s, const std::string& host, bool verify);

}  // namespace sluice::net
