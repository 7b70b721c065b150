#pragma once
// What every Redis component takes: `url` (or `client:` naming a `redis`
// resource) and the client's timeouts; and the one call that picks between
// a component's own client and the shared one.

#include <memory>
#include <vector>

#include "config/spec.h"

namespace sluice::redis {
class Client;
}

namespace sluice::connectors::redis_settings {

// url, client, connect_timeout, command_timeout, then `own`.
std::vector<config::Field> with_connection_fields(std::vector<config::Field> own);
// The spec's validate hook: a url that parse_url refuses, or both url and
// client, or neither.
void validate_connection(const config::Values& v);
std::shared_ptr<redis::Client> client_for(const config::Values& v, runtime::BuildContext& ctx);

}  // namespace sluice::connectors::redis_settings
