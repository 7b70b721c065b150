#include "connectors/sidekiq/job_reader.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "connectors/sidekiq/job.h"

namespace sluice::connectors::sidekiq {
namespace {

namespace json = boost::json;

constexpr std::string_view kWrapper = "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper";

// ActiveJob's built-in serializers whose `value` is the whole of it.
constexpr std::array<std::string_view, 6> kPlainSerializers = {
    "ActiveJob::Serializers::SymbolSerializer",   "ActiveJob::Serializers::TimeSerializer",
    "ActiveJob::Serializers::DateSerializer",     "ActiveJob::Serializers::DateTimeSerializer",
    "ActiveJob::Serializers::TimeWithZoneSerializer", "ActiveJob::Serializers::ModuleSerializer"};

core::Error invalid(std::string what) { return core::Error(core::Errc::invalid_payload, std::move(what)); }

template <size_t N>
bool among(std::string_view s, const std::array<std::string_view, N>& list) {
  for (auto x : list)
    if (s == x) return true;
  return false;
}

const json::string* string_field(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v ? v->if_string() : nullptr;
}

core::Result<json::value> serialized_value(const json::object& o) {
  const auto* name = string_field(o, "_aj_serialized");
  if (!name) return std::unexpected(invalid("an ActiveJob `_aj_serialized` that is not a serializer name"));
  if (!among(*name, kPlainSerializers))
    return std::unexpected(invalid(fmt::format(
        "an ActiveJob argument made by {}, which only the Rails app can read", std::string_view(*name))));
  // Each of these serializes to a string; anything else is not theirs.
  const auto* value = string_field(o, "value");
  if (!value)
    return std::unexpected(invalid(fmt::format("{} without its `value` (a string)", std::string_view(*name))));
  return json::value(*value);
}

core::Result<int64_t> count_field(const json::value& v, std::string_view name) {
  if (const auto* i = v.if_int64(); i && *i >= 0) return *i;
  if (const auto* u = v.if_uint64(); u && *u <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(*u);
  return std::unexpected(invalid(fmt::format("`{}` is {}, not a count", name, json::serialize(v))));
}

}  // namespace

core::Result<json::value> active_job_value(const json::value& v) {
  if (const auto* a = v.if_array()) {
    json::array out;
    for (const auto& item : *a) {
      auto d = active_job_value(item);
      if (!d) return d;
      out.push_back(std::move(*d));
    }
    return out;
  }
  const auto* o = v.if_object();
  if (!o) return v;
  if (o->contains("_aj_globalid"))
    return std::unexpected(invalid("an ActiveJob GlobalID argument (a record of the Rails app), which only the "
                                   "Rails app can look up"));
  if (o->contains("_aj_serialized")) return serialized_value(*o);
  json::object out;
  for (const auto& [k, item] : *o) {
    // Markers of how Ruby held the hash: the JSON object alone is what the pipeline needs.
    if (std::find(kActiveJobReservedKeys.begin(), kActiveJobReservedKeys.begin() + kActiveJobMarkerKeys, k) !=
        kActiveJobReservedKeys.begin() + kActiveJobMarkerKeys)
      continue;
    auto d = active_job_value(item);
    if (!d) return d;
    out[k] = std::move(*d);
  }
  return out;
}

core::Result<ReadJob> read_job(std::string_view text) {
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (ec) return std::unexpected(invalid(fmt::format("the job is not JSON: {}", ec.message())));
  auto* object = parsed.if_object();
  if (!object) return std::unexpected(invalid("the job is not a JSON object"));
  ReadJob job;
  job.item = std::move(*object);
  const auto& item = job.item;

  const auto* cls = string_field(item, "class");
  if (!cls || cls->empty()) return std::unexpected(invalid("the job has no `class` (a string)"));
  const auto* args = item.if_contains("args");
  if (!args || !args->is_array()) return std::unexpected(invalid("the job's `args` is missing or not a list"));
  if (const auto* jid = item.if_contains("jid"); jid && !jid->is_null()) {
    if (!jid->is_string()) return std::unexpected(invalid("the job's `jid` is not a string"));
    job.jid = jid->as_string();
  }
  if (const auto* q = string_field(item, "queue")) job.queue = *q;
  if (const auto* retry = item.if_contains("retry")) {
    if (const auto* b = retry->if_bool()) {
      job.retry = *b;
    } else {
      auto n = count_field(*retry, "retry");
      if (!n) return std::unexpected(invalid("the job's `retry` must be true, false or a number of retries"));
      job.retry_limit = *n;
    }
  }
  if (const auto* count = item.if_contains("retry_count")) {
    const auto* minus_one = count->if_int64();
    if (minus_one && *minus_one == -1) {
      job.retry_count = -1;
    } else {
      auto n = count_field(*count, "retry_count");
      if (!n) return std::unexpected(n.error());
      // Sidekiq counts failures one by one; a count past a billion is not its.
      if (*n > 1'000'000'000) return std::unexpected(invalid(fmt::format("`retry_count` {} is not a count of failures", *n)));
      job.retry_count = *n;
    }
  }

  if (*cls != kWrapper) {
    job.job_class = *cls;
    job.args = args->as_array();
    return job;
  }
  job.active_job = true;
  const auto& wrapper_args = args->as_array();
  const json::object* hash = wrapper_args.size() == 1 ? wrapper_args[0].if_object() : nullptr;
  if (!hash) return std::unexpected(invalid("an ActiveJob wrapper whose `args` is not [the serialized job]"));
  const auto* job_class = string_field(*hash, "job_class");
  if (!job_class || job_class->empty()) return std::unexpected(invalid("the ActiveJob has no `job_class`"));
  job.job_class = *job_class;
  if (const auto* id = string_field(*hash, "job_id")) job.active_job_id = *id;
  if (const auto* q = string_field(*hash, "queue_name"); q && job.queue.empty()) job.queue = *q;
  const auto* arguments = hash->if_contains("arguments");
  if (!arguments || !arguments->is_array())
    return std::unexpected(invalid("the ActiveJob's `arguments` is missing or not a list"));
  auto unwrapped = active_job_value(*arguments);
  if (!unwrapped) return std::unexpected(unwrapped.error());
  job.args = std::move(unwrapped->as_array());
  return job;
}

}  // namespace sluice::connectors::sidekiq
