#pragma once
// Parsers for the value shapes config files use: durations ("250ms", "30s",
// "5m", "1h"), byte sizes ("64KiB", "1MB", "1024"), rates ("100/s",
// "20/min", "1000/h") and `${VAR}` / `${VAR:-default}` interpolation.
// Each returns std::nullopt / an error string rather than throwing.

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::config {

// The longest duration a config may give: 100 years (nanoseconds hold 292).
inline constexpr std::chrono::nanoseconds kMaxDuration = std::chrono::hours(24 * 365 * 100);
// The slowest rate a config may give: one a day. Slower is no rate limit
// anyone means (and far slower would overflow a token bucket's
// nanoseconds per token).
inline constexpr double kMinRatePerSecond = 1.0 / 86400;

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view s);
std::optional<uint64_t> parse_size(std::string_view s);
std::optional<double> parse_rate_per_second(std::string_view s);

// Replaces ${VAR} and ${VAR:-default}; `$${` is a literal `${`. Errors name
// the variable that is unset and has no default.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
std::expected<std::string, std::string> interpolate_env(std::string_view text, const EnvLookup& lookup);
EnvLookup process_env();

}  // namespace sluice::config
