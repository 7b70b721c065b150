#pragma once
// The dashboard at GET / (one page, embedded; it polls the API below every
// second), and the alert API on the admin server when the config has
// `alerts: {queue}`:
//   POST /api/alerts       {"body", "recipients": [...] or CSV text, "from"?}
//                          -> 201 {"id", "recipients", "duplicates_removed"}
//   GET  /api/alerts       every alert's report, newest first
//   GET  /api/alerts/{id}  one alert's report (ledger::to_json)
// POST records the alert in the ledger and enqueues one message per
// recipient, {"alert_id", "to", "body", "from"}, into the alert queue in one
// durable commit: all recipients or none. With `alerts.token` every route
// wants `Authorization: Bearer <token>`.

namespace sluice::admin {
class Server;
}
namespace sluice::runtime {
class BuildContext;
}

namespace sluice::alerts {

void install_alert_api(admin::Server& server, runtime::BuildContext& ctx);

}  // namespace sluice::alerts
