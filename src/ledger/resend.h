#pragma once
// An alert's resend policy: an undelivered or failed message whose error
// code is listed is sent again `after` its final status, at most
// `max_attempts` more times, and never later than `window` after the alert
// was created. What is left of the window becomes the resend's Twilio
// ValidityPeriod, so a late text is not delivered hours after the emergency.
//
// A policy comes from the config (`alerts: {resend: ...}`, every alert) or
// from one alert's POST /api/alerts body, and is kept with the alert.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::ledger {

// How long an alert's messages are worth sending (seed: GOV.UK Notify's
// VALID_ALERT_THRESHOLD, 6 hours), and Twilio's longest ValidityPeriod.
inline constexpr int64_t kDefaultWindowMs = 6 * 3600 * 1000;
inline constexpr int64_t kMaxValiditySeconds = 36'000;
// Most resends one policy may ask for.
inline constexpr int64_t kMaxResends = 10;

struct ResendPolicy {
  std::vector<std::string> codes;  // error codes worth sending again; none: no resend
  int64_t after_ms = 5 * 60 * 1000;
  int64_t max_attempts = 0;  // resends beyond the first attempt
  int64_t window_ms = kDefaultWindowMs;

  bool enabled() const { return !codes.empty() && max_attempts > 0; }
  bool covers(std::string_view code) const;
  // Whether a message at `attempt` (1: the first send) that failed with
  // `code` is sent again.
  bool resends(int64_t attempt, std::string_view code) const { return enabled() && attempt <= max_attempts && covers(code); }

  // Stored with the alert as "30003,30008" (codes are digits, no commas).
  std::string codes_text() const;
  static std::vector<std::string> codes_from_text(std::string_view text);
  bool operator==(const ResendPolicy&) const = default;
};

// Seconds left of an alert's window at `now_ms`, as a ValidityPeriod:
// 0 when too little is left to send (under a second), at most Twilio's 10 hours.
int64_t validity_seconds(int64_t created_ms, int64_t window_ms, int64_t now_ms);

}  // namespace sluice::ledger
