#pragma once
// Standard base64 (RFC 4648, with padding), as HTTP Basic auth and Twilio
// signatures use it.

#include <string>
#include <string_view>

namespace sluice::net {

std::string base64(std::string_view bytes);

}  // namespace sluice::net
