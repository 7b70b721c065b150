#include <boost/json.hpp>

#include <algorithm>
#include <cmath>

#include "ledger/report.h"

namespace sluice::ledger {

namespace {

Percentiles percentiles(const Histogram& h) {
  return {.count = h.count(), .p50_ms = h.percentile(0.50), .p90_ms = h.percentile(0.90), .p99_ms = h.percentile(0.99)};
}

boost::json::object to_json(const Percentiles& p) {
  return {{"count", p.count}, {"p50_ms", p.p50_ms}, {"p90_ms", p.p90_ms}, {"p99_ms", p.p99_ms}};
}

boost::json::value to_json(const ResendPolicy& p) {
  if (!p.enabled()) return nullptr;
  boost::json::array codes;
  for (const auto& c : p.codes) codes.push_back(boost::json::string(c));
  return boost::json::object{{"codes", std::move(codes)},
                             {"after_ms", p.after_ms},
                             {"max_attempts", p.max_attempts},
                             {"window_ms", p.window_ms}};
}

boost::json::array series(const std::vector<std::pair<int64_t, int64_t>>& s) {
  boost::json::array a;
  for (const auto& [t, n] : s) a.push_back(boost::json::array{t, n});
  return a;
}

}  // namespace

AlertReport make_report(const AlertStats& a) {
  AlertReport r;
  r.info = a.info;
  r.by_status = a.by_status;
  r.messages = a.messages;
  r.refused = a.refused;
  r.recipients_sent = a.recipients_sent;
  r.terminal = a.terminal();
  r.segments = a.segments;
  const int64_t delivered = a.by_status[static_cast<size_t>(Status::delivered)];
  r.delivered_percent = a.messages ? 100.0 * static_cast<double>(delivered) / static_cast<double>(a.messages) : 0;
  r.failures_by_code = a.failures_by_code;
  const int64_t accepted = a.messages - a.refused;
  if (accepted > 1 && a.last_send_ms > a.first_send_ms)
    r.send_rate = static_cast<double>(accepted - 1) * 1000.0 / static_cast<double>(a.last_send_ms - a.first_send_ms);
  r.to_sent = percentiles(a.to_sent_ms);
  r.to_delivered = percentiles(a.to_delivered_ms);
  r.sends_per_second.assign(a.sends_per_second.begin(), a.sends_per_second.end());
  r.deliveries_per_second.assign(a.deliveries_per_second.begin(), a.deliveries_per_second.end());
  r.last_activity_ms = a.last_activity_ms;
  r.resent = a.resent;
  r.delivered_after_resend = a.delivered_after_resend;
  r.delivered_first_attempt = delivered - a.delivered_after_resend;
  r.still_undelivered =
      a.by_status[static_cast<size_t>(Status::undelivered)] + a.by_status[static_cast<size_t>(Status::failed)];
  r.resends_waiting = a.resends_waiting;
  r.late_callbacks = a.late_callbacks;
  r.reconciling = a.reconciling;
  return r;
}

std::string_view alert_state(const AlertReport& r, int64_t now_ms) {
  if (r.resends_waiting > 0 && now_ms < r.info.created_ms + r.info.resend.window_ms) return "resending";
  if (r.terminal >= r.info.recipients && r.info.recipients > 0) return "done";
  if (r.reconciling && r.messages >= r.info.recipients) return "reconciling";
  const int64_t since = r.last_activity_ms > 0 ? r.last_activity_ms : r.info.created_ms;
  if (now_ms - since >= kStalledAfterMs) return "stalled";
  return r.messages < r.info.recipients ? "sending" : "waiting for statuses";
}

boost::json::object to_json(const AlertReport& r, int64_t now_ms) {
  boost::json::object by_status;
  for (Status s : kAllStatuses) by_status[to_string(s)] = r.by_status[static_cast<size_t>(s)];
  boost::json::object failures;
  for (const auto& [code, n] : r.failures_by_code) failures[code] = n;
  return {{"id", r.info.id},
          {"state", alert_state(r, now_ms)},
          {"created_ms", r.info.created_ms},
          {"recipients", r.info.recipients},
          {"body", r.info.body},
          {"from", r.info.from},
          {"messages", r.messages},
          {"refused", r.refused},
          {"recipients_sent", r.recipients_sent},
          {"terminal", r.terminal},
          {"segments", r.segments},
          {"by_status", std::move(by_status)},
          {"delivered_percent", r.delivered_percent},
          {"send_rate", r.send_rate},
          {"failures_by_code", std::move(failures)},
          {"time_to_sent", to_json(r.to_sent)},
          {"time_to_delivered", to_json(r.to_delivered)},
          {"sends_per_second", series(r.sends_per_second)},
          {"deliveries_per_second", series(r.deliveries_per_second)},
          {"last_activity_ms", r.last_activity_ms},
          {"resend", to_json(r.info.resend)},
          {"window_ends_ms", r.info.created_ms + r.info.resend.window_ms},
          {"attempts", boost::json::object{{"resent", r.resent},
                                           {"delivered_first_attempt", r.delivered_first_attempt},
                                           {"delivered_after_resend", r.delivered_after_resend},
                                           {"still_undelivered", r.still_undelivered},
                                           {"resends_waiting", r.resends_waiting}}},
          {"late_callbacks", r.late_callbacks}};
}

}  // namespace sluice::ledger
