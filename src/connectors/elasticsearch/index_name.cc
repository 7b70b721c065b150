#include "connectors/elasticsearch/index_name.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <charconv>

#include "core/message.h"
#include "core/rfc3339.h"
#include "template/template.h"

namespace sluice::connectors::elasticsearch {
namespace {

constexpr std::string_view kSpecifiers = "YmdHjVG%";

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
    if (auto t = core::parse_rfc3339(*v)) return t;
    double n = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || end != v->data() + v->size()) return std::nullopt;
    return from_epoch(n);
  }
  const auto* json = m.json();
  if (!json) return std::nullopt;
  const auto* v = tmpl::find_path(*json, tmpl::split_path(field));
  if (!v) return std::nullopt;
  if (v->is_string()) return core::parse_rfc3339(v->as_string());
  if (v->is_number()) return from_epoch(v->to_number<double>());
  return std::nullopt;
}

}  // namespace sluice::connectors::elasticsearch
