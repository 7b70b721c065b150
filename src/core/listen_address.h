#pragma once
// A listener's `host:port`, checked the same way by `lint` (the config
// loader and component specs) and by the servers that bind it: the host is
// an IPv4 address, an IPv6 address in brackets, or localhost (127.0.0.1).

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace sluice::core {

struct ListenAddress {
  std::string host;  // an IP address, brackets removed; localhost as 127.0.0.1
  uint16_t port = 0;  // 0: any free port
};

// The address, or what is wrong with it in words.
std::expected<ListenAddress, std::string> parse_listen_address(std::string_view address);

}  // namespace sluice::core
