#pragma once
// Sidekiq: the `sidekiq` output pushes jobs that a Sidekiq process runs as
// if Ruby had pushed them (plain or ActiveJob, namespaced or not, now or at
// a time). Jobs are built in job.h; the Redis connection is the redis
// connector's (connectors/redis/settings.h).

#include "config/spec.h"

namespace sluice::connectors {

config::ComponentSpec sidekiq_output_spec();

}  // namespace sluice::connectors
