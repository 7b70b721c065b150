#include "config/units.h"


#include <charconv>
#include <cmath>
#include <cstdlib>

namespace sluice::config {
namespace {

// Splits "12.5ms" into 12.5 and "ms".
std::optional<std::pair<double, std::string_view>> number_and_unit(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  double value = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || !std::isfinite(value) || value < 0) return std::nullopt;
  std::string_view unit(p, static_cast<size_t>(s.data() + s.size() - p));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  return std::pair{value, unit};
}

}  // namespace

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view s) {
  auto nu = number_and_unit(s);
  if (!nu) return std::nullopt;
  static constexpr std::pair<std::string_view, double> units[] = {
      {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  for (auto [name, scale] : units) {
    if (nu->second != name) continue;
    // Past what nanoseconds hold, llround would overflow ("1e10h" read as
    // negative): refused, not wrapped.
    if (nu->first * scale > static_cast<double>(kMaxDuration.count())) return std::nullopt;
    return std::chrono::nanoseconds(std::llround(nu->first * scale));
  }
  return std::nullopt;
}

std::optional<uint64_t> parse_size(std::string_view s) {
  auto nu = number_and_unit(s);
  if (!nu) return std::nullopt;
  static constexpr std::pair<std::string_view, double> units[] = {
      {"", 1},      {"B", 1},      {"KB", 1e3},  {"MB", 1e6},  {"GB", 1e9},
      {"KiB", 1024}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}};
  for (auto [name, scale] : units) {
    if (nu->second != name) continue;
    if (nu->first * scale > 9e18) return std::nullopt;  // past what llround holds
    return static_cast<uint64_t>(std::llround(nu->first * scale));
  }
  return std::nullopt;
}

std::optional<double> parse_rate_per_second(std::string_view s) {
  auto slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto count = number_and_unit(s.substr(0, slash));
  if (!count || !count->second.empty() || count->first <= 0) return std::nullopt;
  std::string_view per = s.substr(slash + 1);
  std::optional<double> rate;
  if (per == "s" || per == "sec") rate = count->first;
  else if (per == "min" || per == "m") rate = count->first / 60;
  else if (per == "h") rate = count->first / 3600;
  else if (per == "d" || per == "day") rate = count->first / 86400;
  if (rate && *rate < kMinRatePerSecond) return std::nullopt;
  return rate;
}

std::expected<std::string, std::string> interpolate_env(std::string_view text, const EnvLookup& lookup) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t dollar = text.find('$', pos);
    if (dollar == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, dollar - pos));
    if (text.substr(dollar).starts_with("$${")) {
      out += "${";
      pos = dollar + 3;
      continue;
    }
    if (!text.substr(dollar).starts_with("${")) {
      out += '$';
      pos = dollar + 1;
      continue;
    }
    size_t close = text.find('}', dollar);
    if (close == std::string_view::npos) return std::unexpected("unclosed '${'");
    std::string_view inner = text.substr(dollar + 2, close - dollar - 2);
    std::optional<std::string_view> fallback;
    if (size_t sep = inner.find(":-"); sep != std::string_view::npos) {
      fallback = inner.substr(sep + 2);
      inner = inner.substr(0, sep);
    }
    const bool valid_name = !inner.empty() && std::all_of(inner.begin(), inner.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
    if (!valid_name) return std::unexpected("bad environment variable name '" + std::string(inner) + "'");
    auto value = lookup(std::string(inner));
    if (value && !value->empty()) {
      out += *value;
    } else if (fallback) {
      out.append(*fallback);
    } else if (value) {
      out += *value;
    } else {
      return std::unexpected("environment variable '" + std::string(inner) + "' is not set and has no default");
    }
    pos = close + 1;
  }
  return out;
}

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

}  // namespace sluice::config
