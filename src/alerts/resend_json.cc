#include "alerts/resend_json.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "config/units.h"
#include "core/utf8.h"

namespace sluice::alerts {

std::expected<ledger::ResendPolicy, std::string> resend_from_json(const boost::json::value& v) {
  ledger::ResendPolicy p;
  if (v.is_null()) return p;
  if (!v.is_object()) return std::unexpected("'resend' must be an object {codes, after, max_attempts, window} or null");
  auto duration_ms = [](const boost::json::value& d, const char* name) -> std::expected<int64_t, std::string> {
    const std::string bad = fmt::format("'resend.{}' must be a duration like \"5m\" or a number of seconds", name);
    double seconds = -1;
    if (d.is_string()) {
      const auto parsed = config::parse_duration(std::string_view(d.as_string()));
      if (!parsed) return std::unexpected(bad);
      seconds = std::chrono::duration<double>(*parsed).count();
    } else if (d.is_number()) {
      seconds = d.to_number<double>();
    } else {
      return std::unexpected(bad);
    }
    if (!(seconds >= 0 && seconds <= 7 * 86400.0)) return std::unexpected(fmt::format("'resend.{}' must be between 0 and 7 days", name));
    return static_cast<int64_t>(seconds * 1000);
  };
  for (const auto& [key, value] : v.as_object()) {
    if (key == "codes") {
      if (!value.is_array()) return std::unexpected("'resend.codes' must be a list of error codes like [\"30003\"]");
      for (const auto& c : value.as_array()) {
        std::string code = c.is_string() ? std::string(c.as_string()) : c.is_int64() ? std::to_string(c.as_int64()) : "";
        if (code.empty() || code.size() > 8 || code.find_first_not_of("0123456789") != std::string::npos)
          return std::unexpected("every code in 'resend.codes' must be a Twilio error code like \"30003\"");
        p.codes.push_back(std::move(code));
      }
    } else if (key == "max_attempts") {
      if (!value.is_int64() || value.as_int64() < 0 || value.as_int64() > ledger::kMaxResends)
        return std::unexpected(fmt::format("'resend.max_attempts' must be a whole number from 0 to {}", ledger::kMaxResends));
      p.max_attempts = value.as_int64();
    } else if (key == "after" || key == "window") {
      auto ms = duration_ms(value, key == "after" ? "after" : "window");
      if (!ms) return std::unexpected(ms.error());
      (key == "after" ? p.after_ms : p.window_ms) = *ms;
    } else {
      return std::unexpected(fmt::format("unknown field 'resend.{}' (codes, after, max_attempts, window)",
                                         core::clip(key, 32)));
    }
  }
  if (p.window_ms < 1000) return std::unexpected("'resend.window' must be at least 1s");
  if (p.codes.empty() || p.max_attempts == 0)
    return std::unexpected("'resend' needs 'codes' and 'max_attempts' of at least 1 (null for no resend)");
  return p;
}


}  // namespace sluice::alerts
