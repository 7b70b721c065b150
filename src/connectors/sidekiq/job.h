#pragma once
// Sidekiq jobs as Ruby's Sidekiq::Client writes them, so that a Sidekiq
// process (6, 7 or 8) runs a job sluice pushed as if Ruby had pushed it:
// plain jobs, and the wrapper Rails' Sidekiq adapter writes for ActiveJob.
// Pure functions: the output (sink_sidekiq.cc) does the Redis part.

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "core/error.h"

namespace sluice::connectors::sidekiq {

// The keys ActiveJob reserves in a serialized hash. The first three only
// mark how Ruby held the hash; the last two stand for a value (a GlobalID,
// a custom serializer's).
inline constexpr std::array<std::string_view, 5> kActiveJobReservedKeys = {
    "_aj_symbol_keys", "_aj_ruby2_keywords", "_aj_hash_with_indifferent_access", "_aj_globalid", "_aj_serialized"};
inline constexpr size_t kActiveJobMarkerKeys = 3;

// Sidekiq 8 writes created_at and enqueued_at as integer milliseconds;
// 6 and 7 as float seconds.
enum class Format { v6, v7, v8 };

struct JobClass {
  std::string name;         // the Ruby class Sidekiq runs, or the ActiveJob class it wraps
  bool active_job = false;  // wrap as ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper
};

struct Job {
  std::string queue;
  boost::json::array args;    // as given: active_job serializes them
  std::string jid;            // 24 hex digits, the same on every push of one message
  std::string active_job_id;  // a UUID (ActiveJob's job_id)
  boost::json::value retry = true;  // true, false or how many times
  double created_at = 0;            // epoch seconds
  std::optional<double> at;         // epoch seconds: scheduled (the `schedule` set)
};

// The config's `format` field ("6", "7" or "8", validated at load).
Format format_named(std::string_view name);
// Now, in epoch seconds, as Sidekiq's Time.now.to_f.
double now_seconds();

// A time as `format` writes it: integer milliseconds (8) or float seconds.
boost::json::value time_value(double seconds, Format format);

// The JSON for queue:<q> (with enqueued_at = now) or, when scheduled, for
// the `schedule` set (without: Sidekiq's scheduler sets it when it moves
// the job). Errc::invalid_payload: an ActiveJob argument Rails would refuse.
core::Result<std::string> job_json(const JobClass& cls, const Job& job, Format format, double now);

// An argument as ActiveJob::Arguments.serialize leaves it: hashes carry
// "_aj_symbol_keys": [] (JSON keys are strings), keys ActiveJob reserves
// (_aj_globalid, ...) are refused as Rails refuses them.
core::Result<boost::json::value> active_job_argument(const boost::json::value& v);

// A key as redis-namespace writes it: "<ns>:<name>", or the name alone.
std::string key(std::string_view ns, std::string_view name);

// SecureRandom.hex(12) and SecureRandom.uuid, from `rng`.
std::string new_jid(std::mt19937_64& rng);
std::string new_uuid(std::mt19937_64& rng);

}  // namespace sluice::connectors::sidekiq
