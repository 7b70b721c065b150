#pragma once
// Logging to stderr through spdlog, as text for people or JSON lines for log
// collectors, plus rate-limited repeats so a failing peer cannot flood it.
//
// Threads: any.

#include <spdlog/spdlog.h>

#include <chrono>
#include <string>
#include <string_view>

namespace sluice::logging {

// level: trace|debug|info|warn|error|off; format: text|json.
void setup(const std::string& level, const std::string& format);

// Logs at `level` at most once per `every` for each `key`; the next line that
// gets through says how many were suppressed in between.
void limited(spdlog::level::level_enum level, std::string_view key, const std::string& message,
             std::chrono::seconds every = std::chrono::seconds(5));

}  // namespace sluice::logging
