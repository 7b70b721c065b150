#pragma once
// Redis: the redis_list input (reliable: BLMOVE into this consumer's
// processing list, acked by LREM) and output (LPUSH/RPUSH), the
// redis_streams input (a consumer group, XACK, claims, dead letters) and
// output (XADD), the fleet rate-limit backend, and the `redis` resource
// that shares one client. The protocol and client are src/redis/.

#include "config/spec.h"

namespace sluice::connectors {

config::ComponentSpec redis_list_input_spec();
config::ComponentSpec redis_list_output_spec();
config::ComponentSpec redis_streams_input_spec();
config::ComponentSpec redis_streams_output_spec();
config::ComponentSpec redis_resource_spec();
// The `redis` rate-limit backend: one GCRA limit for a fleet (fleet_rate_limit.cc).
config::ComponentSpec redis_rate_limit_backend_spec();

}  // namespace sluice::connectors
