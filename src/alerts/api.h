#pragma once
// The dashboard at GET / (one page, embedded; it polls the API below every
// second), and the alert API on the admin server when the config has
// `alerts: {queue}`:
//   POST /api/alerts       {"body", "recipients": [...] or CSV text, "from"?,
//                           "skip_invalid"?, "resend"?: {"codes": [...],
//                           "after": "5m", "max_attempts": 2, "window": "6h"}
//                           or null for none}, or a CSV file as the body with
//                          Content-Type: text/csv and ?body=...&from=...
//                          -> 201 {"id", "recipients", "duplicates_removed",
//                                  with skip_invalid "refused", "refused_rows"}
//                          Its body may hold max_recipients rows of 64 bytes.
//   GET  /api/alerts       every alert's report, newest first
//   GET  /api/alerts/{id}  one alert's report (ledger::to_json)
// POST records the alert in the ledger and enqueues one message per
// recipient, {"alert_id", "to", "body", "from"}, into the alert queue in one
// durable commit: all recipients or none. With `alerts.token` every route
// wants `Authorization: Bearer <token>`.

#include <cstdint>
#include <string>

#include "config/spec.h"
#include "ledger/resend.h"

namespace sluice::admin {
class Server;
}
namespace sluice::runtime {
class BuildContext;
}

namespace sluice::alerts {

// The `alerts:` section of the config, registered by the component list.
config::SectionSpec section_spec();

struct AlertsSettings {
  std::string queue;  // empty: POST /api/alerts is off
  std::string from;
  std::string token;  // empty: no auth
  int64_t max_recipients;
  ledger::ResendPolicy resend;  // every alert's, unless it names its own
};
AlertsSettings settings(const config::Values& section);

void install_alert_api(admin::Server& server, runtime::BuildContext& ctx);

}  // namespace sluice::alerts
