#pragma once
// Logging to stderr, as text for people or JSON lines for log collectors,
// plus rate-limited repeats so a failing peer cannot flood it.
//
// The calls format with fmt and hand the finished line to spdlog inside
// log.cc. Why not call spdlog directly: each spdlog::info("{}", x) call site
// instantiates spdlog's and fmt's whole formatting machinery in its file,
// about 5 s of -O2 compile time per file (spdlog 1.10, fmt 9); these cost
// half a second.
//
// Threads: any.

#include <fmt/core.h>

#include <chrono>
#include <string>
#include <string_view>

namespace sluice::logging {

enum class Level { trace, debug, info, warn, error };

// level: trace|debug|info|warn|error|off; format: text|json.
void setup(const std::string& level, const std::string& format);

bool enabled(Level level);
void write(Level level, std::string_view line);

template <class... Args>
void log(Level level, fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(level)) write(level, fmt::vformat(format, fmt::make_format_args(args...)));
}
template <class... Args>
void debug(fmt::format_string<Args...> format, Args&&... args) {
  log(Level::debug, format, std::forward<Args>(args)...);
}
template <class... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
  log(Level::info, format, std::forward<Args>(args)...);
}
template <class... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
  log(Level::warn, format, std::forward<Args>(args)...);
}
template <class... Args>
void error(fmt::format_string<Args...> format, Args&&... args) {
  log(Level::error, format, std::forward<Args>(args)...);
}

// Logs at `level` at most once per `every` for each `key`; the next line that
// gets through says how many were suppressed in between.
void limited(Level level, std::string_view key, const std::string& message,
             std::chrono::seconds every = std::chrono::seconds(5));

}  // namespace sluice::logging
