#pragma once
// What both AMQP components take to connect (url, heartbeat, timeouts, TLS),
// and the reconnect loop's pause.

#include <vector>

#include "amqp/connection.h"
#include "config/spec.h"
#include "core/clock.h"
#include "runtime/task.h"

namespace sluice::connectors::amqp_settings {

// url, heartbeat, connect_timeout, tls_verify, tls_ca_file, then `own`.
std::vector<config::Field> with_connection_fields(std::vector<config::Field> own);
// The spec's validate hook for those fields.
void validate_connection(const config::Values& v);
amqp::ConnectOptions connect_options(const config::Values& v, const std::string& name);

// Waits `d` in slices, returning early once `stop()` holds (a close()
// during a reconnect pause must not wait the pause out).
runtime::Task<void> pause(const core::Clock& clock, core::Nanos d, const std::function<bool()>& stop);

}  // namespace sluice::connectors::amqp_settings
