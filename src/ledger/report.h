#pragma once
// One alert's delivery report, as every store gives it (GET /api/alerts/{id},
// `sluice alert status`, the dashboard), and its JSON.

#include <boost/json/object.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "ledger/book.h"

namespace sluice::ledger {

struct Percentiles {
  int64_t count = 0;
  int64_t p50_ms = 0, p90_ms = 0, p99_ms = 0;
};

// One alert's aggregates as a report (GET /api/alerts/{id}, `sluice alert status`).
struct AlertReport {
  AlertInfo info;
  std::array<int64_t, kStatusCount> by_status{};
  int64_t messages = 0;
  int64_t refused = 0;  // recorded as failed without reaching the provider
  int64_t recipients_sent = 0;
  int64_t terminal = 0;
  int64_t segments = 0;
  double delivered_percent = 0;  // of messages sent
  double send_rate = 0;          // sends per second between the first and the last send
  std::map<std::string, int64_t> failures_by_code;
  Percentiles to_sent, to_delivered;
  std::vector<std::pair<int64_t, int64_t>> sends_per_second;       // unix second, count
  std::vector<std::pair<int64_t, int64_t>> deliveries_per_second;  // unix second, count
  int64_t last_activity_ms = 0;  // the latest send or status change; 0: none yet
  // Attempts (an alert with a resend policy): recipients delivered on the
  // first send and on a resend, and those whose latest attempt failed.
  int64_t resent = 0, delivered_first_attempt = 0, delivered_after_resend = 0, still_undelivered = 0;
  int64_t resends_waiting = 0;  // failures queued to be sent again
  int64_t late_callbacks = 0;   // callbacks timed after the alert's window
  bool reconciling = false;     // overdue messages are being looked up at the provider
};

AlertReport make_report(const AlertStats& stats);

// How long an open alert may be quiet (no send, no status) before it is stalled.
inline constexpr int64_t kStalledAfterMs = 60'000;
// The alert's state at `now_ms`, as the dashboard and the CLI name it:
// "resending" (failures wait to be sent again), "reconciling" (all sent;
// messages whose status is overdue are being looked up), "stalled" (open,
// and nothing sent or heard back for kStalledAfterMs), "sending"
// (recipients not yet sent), "waiting for statuses", or "done".
std::string_view alert_state(const AlertReport& r, int64_t now_ms);
// With "state" at `now_ms`.
boost::json::object to_json(const AlertReport& r, int64_t now_ms);

}  // namespace sluice::ledger
