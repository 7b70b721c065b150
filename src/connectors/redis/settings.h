#pragma once
// What every Redis component takes: `url` (or `client:` naming a `redis`
// resource) and the client's timeouts; and the one call that picks between
// a component's own client and the shared one.

#include <memory>
#include <vector>

#include "config/spec.h"
#include "core/error.h"
#include "runtime/write_outcome.h"

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

// An output's outcome for a write Redis refused with `error_text`:
// WRONGTYPE (the key holds something else) is for good; OOM backs off;
// LOADING, READONLY (a failover) and the like retry. `why` goes with it.
runtime::WriteOutcome refused(const std::string& error_text, std::string why);
// For a round whose answer never came: not known to have run, so at least
// once means writing again (a timeout as overload).
runtime::WriteOutcome unanswered(const core::Error& e);

}  // namespace sluice::connectors::redis_settings
