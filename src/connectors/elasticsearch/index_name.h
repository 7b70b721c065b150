#pragma once
// Time-based index names (logs-%Y.%m.%d), as Vector and Logstash write
// them: after the `index` template renders, %Y %m %d %H %j %V %G and %% are
// replaced from the document's time (UTC).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/message_fwd.h"

namespace sluice::connectors::elasticsearch {

using Time = std::chrono::system_clock::time_point;

// Why `pattern` cannot be expanded (a % not followed by one of the letters
// above), or nothing. For lint.
std::optional<std::string> date_pattern_problem(std::string_view pattern);
bool has_date_pattern(std::string_view pattern);
// `pattern` with its date specifiers replaced from `t`.
std::string expand_date(std::string_view pattern, Time t);

// The time in a document's field: RFC 3339 text (2026-12-02T10:00:00Z, with
// fraction or offset), or a number of epoch seconds, or of milliseconds when
// it is above 10^11 (later than 5138 in seconds). Nothing if absent or not
// a time.
std::optional<Time> time_of(const core::Message& m, const std::string& field);

}  // namespace sluice::connectors::elasticsearch
