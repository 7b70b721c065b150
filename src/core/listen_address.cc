#include "core/listen_address.h"

#include <arpa/inet.h>

#include <charconv>

namespace sluice::core {

std::expected<ListenAddress, std::string> parse_listen_address(std::string_view address) {
  const std::string quoted = "'" + std::string(address.substr(0, 80)) + "'";
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || address.find(']', colon) != std::string_view::npos)
    return std::unexpected("address must be host:port (e.g. 127.0.0.1:8080), got " + quoted);
  ListenAddress out;
  const std::string_view port_text = address.substr(colon + 1);
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), out.port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size())
    return std::unexpected("bad port in address " + quoted + " (0-65535)");
  std::string_view host = address.substr(0, colon);
  const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  out.host = host == "localhost" ? "127.0.0.1" : std::string(host);
  unsigned char ip[16];
  const bool v4 = !bracketed && inet_pton(AF_INET, out.host.c_str(), ip) == 1;
  const bool v6 = bracketed && inet_pton(AF_INET6, out.host.c_str(), ip) == 1;
  if (!v4 && !v6)
    return std::unexpected("address host must be an IP address ([...] for IPv6) or localhost, got " + quoted);
  return out;
}

}  // namespace sluice::core
