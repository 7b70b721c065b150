#include "connectors/sidekiq/job_retry.h"

#include <boost/json/serialize.hpp>

#include <cmath>

namespace sluice::connectors::sidekiq {
namespace {

namespace json = boost::json;

// JobRetry#attempt_retry's bookkeeping, before it decides where the job goes.
void record_failure(ReadJob& job, const Failure& failure, Format format, double now) {
  auto& item = job.item;
  // Where a retry runs: retry_queue, else the queue the job came from.
  // (Copied first: inserting "queue" may rehash the object and move what `q` points at.)
  if (const auto* q = item.if_contains("retry_queue"); q && q->is_string()) {
    json::string retry_queue = q->as_string();
    item["queue"] = std::move(retry_queue);
  } else if (!job.queue.empty()) {
    item["queue"] = job.queue;
  }
  item["error_message"] = failure.error_message.substr(0, 10'000);
  item["error_class"] = failure.error_class;
  if (job.retry_count) {
    item["retried_at"] = time_value(now, format);
    job.retry_count = *job.retry_count + 1;
  } else {
    item["failed_at"] = time_value(now, format);
    job.retry_count = 0;
  }
  item["retry_count"] = *job.retry_count;
}

}  // namespace

double retry_delay_seconds(int64_t count) { return std::pow(static_cast<double>(count), 4) + 15; }

Disposition after_failure(ReadJob job, const Failure& failure, int64_t max_retries, Format format, double now,
                          std::mt19937_64& rng) {
  if (!job.retry) return {.where = Disposition::Where::dropped, .payload = json::serialize(job.item)};
  record_failure(job, failure, format, now);
  const int64_t limit = job.retry_limit.value_or(max_retries);
  const int64_t count = *job.retry_count;
  Disposition d{.payload = {}, .retry_count = count};
  if (count < limit) {
    const auto jitter = static_cast<double>(std::uniform_int_distribution<int64_t>(0, 9)(rng) * (count + 1));
    d.where = Disposition::Where::retry;
    d.score = now + retry_delay_seconds(count) + jitter;
  } else {
    const auto* dead = job.item.if_contains("dead");
    d.where = dead && dead->is_bool() && !dead->as_bool() ? Disposition::Where::dropped : Disposition::Where::dead;
    d.score = now;
  }
  d.payload = json::serialize(job.item);
  return d;
}

Disposition dead_now(ReadJob job, const Failure& failure, Format format, double now) {
  record_failure(job, failure, format, now);
  return {.where = Disposition::Where::dead, .payload = json::serialize(job.item), .score = now,
          .retry_count = *job.retry_count};
}

}  // namespace sluice::connectors::sidekiq
