#pragma once
// RFC 3339 timestamps (2026-12-02T10:00:00Z, with a fraction or an offset),
// as Elasticsearch documents and AWS credential expiries carry them.

#include <chrono>
#include <optional>
#include <string_view>

namespace sluice::core {

// The instant `text` names, or nothing when it is not an RFC 3339 date-time
// (a date alone, an impossible day, trailing junk).
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace sluice::core
