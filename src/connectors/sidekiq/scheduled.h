#pragma once
// What Sidekiq's scheduler (Sidekiq::Scheduled::Enq) does in every Sidekiq
// process: move the jobs of the `retry` and `schedule` sets whose time has
// come into their queues. The sidekiq input runs it, so that sluice alone
// (no Ruby Sidekiq) still retries and runs scheduled jobs; alongside Ruby
// Sidekiq processes it is harmless: a job is moved by whoever removes it
// from its set first.

#include <string>

#include "connectors/sidekiq/job.h"
#include "runtime/task.h"

namespace sluice::redis {
class Client;
}

namespace sluice::connectors::sidekiq {

struct Enqueued {
  size_t moved = 0;
  size_t unreadable = 0;  // members that are not jobs, left where they are
  std::string error;      // Redis away or refusing; empty when the pass ran
};

// One pass: up to `limit` due jobs of each set, each with enqueued_at = now
// (and without `at`), as Sidekiq::Client.push writes them.
runtime::Task<Enqueued> enqueue_due(redis::Client& client, const std::string& ns, Format format, double now,
                                    size_t limit = 100);

}  // namespace sluice::connectors::sidekiq
