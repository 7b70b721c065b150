#pragma once
// The embedded queues on the admin server, for the dashboard's Pipelines
// and Dead letters pages:
//   GET  /api/queues                      {"queues": [{"name", "depth", "dead", "requeue_to"}]}
//   GET  /api/queues/{q}/messages?after=ID&limit=N
//                                         {"depth", "messages": [{"id", "payload", "metadata",
//                                          "failed_deliveries", "enqueued_at_ms"}]}
//   POST /api/queues/{q}.dead/requeue     {"ids": [...]} or {"all": true} -> {"requeued"}
//   POST /api/queues/{q}.dead/delete      {"ids": [...]} or {"all": true} -> {"deleted"}
// Requeue moves messages back to the end of the queue they died in, with
// their failed deliveries reset; only dead-letter queues (`.dead`) can be
// requeued or deleted from. With `alerts.token` every route wants the
// bearer token.

#include <string>

namespace sluice::admin {
class Server;
}
namespace sluice::runtime {
class BuildContext;
}

namespace sluice::alerts {

void install_queue_api(admin::Server& server, runtime::BuildContext& ctx, const std::string& token);

}  // namespace sluice::alerts
