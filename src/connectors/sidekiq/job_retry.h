#pragma once
// What Sidekiq's JobRetry does with a job that failed, as pure functions, so
// that a job sluice could not deliver lands where Sidekiq would put its own:
// the `retry` set with Sidekiq's fields and backoff, the `dead` set once its
// retries are spent, or nowhere for `retry: false` (Sidekiq 6.4,
// lib/sidekiq/job_retry.rb).

#include <random>
#include <string>

#include "connectors/sidekiq/job.h"
#include "connectors/sidekiq/job_reader.h"

namespace sluice::connectors::sidekiq {

// Sidekiq's default for `retry: true`.
inline constexpr int64_t kDefaultMaxRetries = 25;
// DeadSet's bounds: jobs older than six months or beyond 10,000 are dropped.
inline constexpr double kDeadTimeoutSeconds = 180.0 * 24 * 60 * 60;
inline constexpr int64_t kDeadMaxJobs = 10'000;

struct Failure {
  std::string error_class;    // Ruby shows it as the exception's class
  std::string error_message;  // cut to 10,000 characters, as Sidekiq does
};

struct Disposition {
  enum class Where { retry, dead, dropped } where;
  std::string payload;  // the job with its failure fields, for ZADD
  double score = 0;     // epoch seconds: when to retry, or when it died
  int64_t retry_count = 0;
};

// The job after one more failure: error_class and error_message set,
// failed_at (first failure, retry_count 0) or retried_at (retry_count + 1),
// queue = retry_queue when given. Then, as Sidekiq: `retry: false` drops it;
// retry_count below the job's limit (its `retry` number, else
// `max_retries`) retries it after count**4 + 15 + rand(10) * (count + 1)
// seconds; otherwise it is dead, unless the job says `dead: false`.
Disposition after_failure(ReadJob job, const Failure& failure, int64_t max_retries, Format format, double now,
                          std::mt19937_64& rng);
// A job refused for good (rejected by the pipeline): dead at once, with the
// same fields (Sidekiq's DeadSet#kill, as the web UI's "Kill" does).
Disposition dead_now(ReadJob job, const Failure& failure, Format format, double now);

// Sidekiq's backoff for the `count`th retry (0-based), without its jitter.
double retry_delay_seconds(int64_t count);

}  // namespace sluice::connectors::sidekiq
