#pragma once
// Reading a job that Ruby (Sidekiq::Client, ActiveJob), the seed's Python
// or sluice pushed: the inverse of job.h. Pure functions, for the sidekiq
// input and its fuzz target; hostile or malformed jobs are errors that say
// what is wrong, never a crash.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace sluice::connectors::sidekiq {

struct ReadJob {
  std::string job_class;      // the class Sidekiq runs; for ActiveJob, the wrapped job class
  bool active_job = false;    // was wrapped as ActiveJob's JobWrapper
  std::string jid;            // empty when the pusher gave none
  std::string active_job_id;  // ActiveJob's job_id
  std::string queue;          // empty when the job does not say
  boost::json::array args;    // the arguments, unwrapped from ActiveJob's serialization
  std::optional<int64_t> retry_limit;  // nullopt: Sidekiq's default (retry: true); 0: no retries
  bool retry = true;                   // retry: false means a failure drops the job
  // Absent: never failed yet (a failure then writes 0). -1 is what
  // Sidekiq's API leaves when a first failure is retried by hand.
  std::optional<int64_t> retry_count;
  boost::json::object item;            // the whole job as pushed, to write back with Sidekiq's fields
};

// Errc::invalid_payload, naming the field: not JSON, not an object, no
// `class`, `args` not a list, an ActiveJob wrapper without its job hash, an
// argument only the Rails app can deserialize (a GlobalID, a custom
// serializer).
core::Result<ReadJob> read_job(std::string_view text);

// ActiveJob::Arguments.deserialize for what can be read outside Rails:
// marker keys (_aj_symbol_keys, _aj_ruby2_keywords, ...) dropped, symbols,
// times and dates (ActiveJob::Serializers) as their string values.
core::Result<boost::json::value> active_job_value(const boost::json::value& v);

}  // namespace sluice::connectors::sidekiq
