#pragma once
// Sidekiq: the `sidekiq` output pushes jobs that a Sidekiq process runs as
// if Ruby had pushed them (plain or ActiveJob, namespaced or not, now or at
// a time); the `sidekiq` input works a queue as Sidekiq would. Jobs are
// built in job.h, read in job_reader.h and failed in job_retry.h; the Redis
// connection is the redis connector's (connectors/redis/settings.h).

#include "config/spec.h"

namespace sluice::connectors {

config::ComponentSpec sidekiq_output_spec();
// The `sidekiq` input: sluice as a queue's dedicated worker (source_sidekiq.cc).
config::ComponentSpec sidekiq_input_spec();

}  // namespace sluice::connectors
