#include "connectors/elasticsearch/index_name.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <charconv>
#include <cstring>

#include "core/message.h"
#include "template/template.h"

namespace sluice::connectors::elasticsearch {
namespace {

constexpr std::string_view kSpecifiers = "YmdHjVG%";

// Reads `n` digits at s[pos]; -1 if they are not digits.
int digits(std::string_view s, size_t pos, size_t n) {
  int v = 0;
  if (pos + n > s.size()) return -1;
  auto [end, ec] = std::from_chars(s.data() + pos, s.data() + pos + n, v);
  return ec == std::errc() && end == s.data() + pos + n ? v : -1;
}

std::optional<Time> parse_rfc3339(std::string_view s) {
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
  return Time(std::chrono::sys_days(day)) + std::chrono::hours(h) + std::chrono::minutes(mi) +
         std::chrono::seconds(sec) - offset;
}

std::optional<Time> from_epoch(double n) {
  if (!(n >= 0) || n > 1e15) return std::nullopt;
  const double seconds = n > 1e11 ? n / 1000 : n;
  return Time(std::chrono::seconds(static_cast<int64_t>(seconds)));
}

}  // namespace

std::optional<std::string> date_pattern_problem(std::string_view pattern) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%') continue;
    if (i + 1 == pattern.size() || kSpecifiers.find(pattern[i + 1]) == std::string_view::npos)
      return fmt::format("'%{}' at character {} is not a date specifier: use %Y %m %d %H %j %V %G, or %% for %",
                         i + 1 < pattern.size() ? std::string(1, pattern[i + 1]) : std::string(), i + 1);
    ++i;
  }
  return std::nullopt;
}

bool has_date_pattern(std::string_view pattern) { return pattern.find('%') != std::string_view::npos; }

std::string expand_date(std::string_view pattern, Time t) {
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd{day};
  const auto hour = std::chrono::duration_cast<std::chrono::hours>(t - day).count();
  std::string out;
  out.reserve(pattern.size() + 8);
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%' || i + 1 == pattern.size()) {
      out += pattern[i];
      continue;
    }
    switch (pattern[++i]) {
      case 'Y': out += fmt::format("{:04}", static_cast<int>(ymd.year())); break;
      case 'm': out += fmt::format("{:02}", static_cast<unsigned>(ymd.month())); break;
      case 'd': out += fmt::format("{:02}", static_cast<unsigned>(ymd.day())); break;
      case 'H': out += fmt::format("{:02}", hour); break;
      case 'j': {
        const auto jan1 = std::chrono::sys_days(ymd.year() / std::chrono::January / 1);
        out += fmt::format("{:03}", (day - jan1).count() + 1);
        break;
      }
      case 'V':
      case 'G': {
        // ISO 8601 week: the week with the year's first Thursday is week 1.
        const std::chrono::weekday wd{day};
        const auto thursday = day + std::chrono::days(3 - (static_cast<int>(wd.iso_encoding()) - 1));
        const std::chrono::year_month_day th{thursday};
        const auto jan1 = std::chrono::sys_days(th.year() / std::chrono::January / 1);
        if (pattern[i] == 'G') out += fmt::format("{:04}", static_cast<int>(th.year()));
        else out += fmt::format("{:02}", (thursday - jan1).count() / 7 + 1);
        break;
      }
      case '%': out += '%'; break;
      default: out += '%'; out += pattern[i];
    }
  }
  return out;
}

std::optional<Time> time_of(const core::Message& m, const std::string& field) {
  if (field.starts_with("meta.")) {
    const std::string* v = m.meta().find(field.substr(5));
    if (!v) return std::nullopt;
    if (auto t = parse_rfc3339(*v)) return t;
    double n = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || end != v->data() + v->size()) return std::nullopt;
    return from_epoch(n);
  }
  const auto* json = m.json();
  if (!json) return std::nullopt;
  const auto* v = tmpl::find_path(*json, tmpl::split_path(field));
  if (!v) return std::nullopt;
  if (v->is_string()) return parse_rfc3339(v->as_string());
  if (v->is_number()) return from_epoch(v->to_number<double>());
  return std::nullopt;
}

}  // namespace sluice::connectors::elasticsearch
