#include "core/rfc3339.h"

#include <cctype>
#include <charconv>

namespace sluice::core {
namespace {

// Reads `n` digits at s[pos]; -1 if they are not digits.
int digits(std::string_view s, size_t pos, size_t n) {
  int v = 0;
  if (pos + n > s.size()) return -1;
  auto [end, ec] = std::from_chars(s.data() + pos, s.data() + pos + n, v);
  return ec == std::errc() && end == s.data() + pos + n ? v : -1;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s) {
  // 2026-12-02T10:00:00[.123456][Z|+01:00]
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':')
    return std::nullopt;
  const int y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
  const int h = digits(s, 11, 2), mi = digits(s, 14, 2), sec = digits(s, 17, 2);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60) return std::nullopt;
  const std::chrono::year_month_day day{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(mo)),
                                        std::chrono::day(static_cast<unsigned>(d))};
  if (!day.ok()) return std::nullopt;
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.')
    for (++pos; pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]));) ++pos;
  std::chrono::minutes offset{0};
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    const int oh = digits(s, pos + 1, 2), om = digits(s, pos + 4, 2);
    if (oh < 0 || om < 0) return std::nullopt;
    offset = std::chrono::minutes(oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  }
  if (pos != s.size()) return std::nullopt;
  return std::chrono::system_clock::time_point(std::chrono::sys_days(day)) + std::chrono::hours(h) + std::chrono::minutes(mi) +
         std::chrono::seconds(sec) - offset;
}

}  // namespace sluice::core
