#pragma once
// The admin token the dashboard's APIs share (`alerts.token`): every route
// wants `Authorization: Bearer <token>` when one is set.

#include <string>

#include "admin/server.h"

namespace sluice::alerts {

// True when no token is set or the request carries it (compared in
// constant time).
bool bearer_ok(const admin::Request& req, const std::string& token);
// 401 with WWW-Authenticate: Bearer.
admin::Response bearer_refused();
// `handler`, answered only for requests that carry the token (see bearer_ok).
admin::Server::AsyncHandler with_bearer(std::string token, admin::Server::AsyncHandler handler);

}  // namespace sluice::alerts
