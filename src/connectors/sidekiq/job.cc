#include "connectors/sidekiq/job.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cmath>
#include <ctime>

namespace sluice::connectors::sidekiq {
namespace {

namespace json = boost::json;

// Rails' Time#iso8601 with milliseconds, in UTC.
std::string iso8601(double seconds) {
  const auto whole = static_cast<std::time_t>(std::floor(seconds));
  const auto ms = static_cast<int>(std::lround((seconds - static_cast<double>(whole)) * 1000)) % 1000;
  std::tm tm{};
  gmtime_r(&whole, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

// ActiveJob's serialized job (Rails 6.1's ActiveJob::Core#serialize).
core::Result<json::object> active_job_hash(const JobClass& cls, const Job& job, double now) {
  json::array arguments;
  for (const auto& a : job.args) {
    auto s = active_job_argument(a);
    if (!s) return std::unexpected(s.error());
    arguments.push_back(std::move(*s));
  }
  json::object h;
  h["job_class"] = cls.name;
  h["job_id"] = job.active_job_id;
  h["provider_job_id"] = nullptr;
  h["queue_name"] = job.queue;
  h["priority"] = nullptr;
  h["arguments"] = std::move(arguments);
  h["executions"] = 0;
  h["exception_executions"] = json::object();
  h["locale"] = "en";
  h["timezone"] = "UTC";
  h["enqueued_at"] = iso8601(now);
  if (job.at) h["scheduled_at"] = iso8601(*job.at);
  return h;
}

std::string hex(std::mt19937_64& rng, size_t bytes) {
  std::string out;
  while (out.size() < bytes * 2) out += fmt::format("{:016x}", rng());
  out.resize(bytes * 2);
  return out;
}

}  // namespace

Format format_named(std::string_view name) {
  return name == "8" ? Format::v8 : name == "6" ? Format::v6 : Format::v7;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

json::value time_value(double seconds, Format format) {
  if (format == Format::v8) return static_cast<int64_t>(std::llround(seconds * 1000));
  return seconds;
}

core::Result<json::value> active_job_argument(const json::value& v) {
  if (v.is_array()) {
    json::array out;
    for (const auto& item : v.as_array()) {
      auto s = active_job_argument(item);
      if (!s) return s;
      out.push_back(std::move(*s));
    }
    return out;
  }
  if (!v.is_object()) return v;
  json::object out;
  for (const auto& [k, item] : v.as_object()) {
    for (auto reserved : kActiveJobReservedKeys)
      if (k == reserved)
        return core::fail(core::Errc::invalid_payload,
                          fmt::format("ActiveJob refuses a hash with the reserved key '{}'", reserved));
    auto s = active_job_argument(item);
    if (!s) return s;
    out[k] = std::move(*s);
  }
  out["_aj_symbol_keys"] = json::array();
  return out;
}

core::Result<std::string> job_json(const JobClass& cls, const Job& job, Format format, double now) {
  json::object j;
  j["retry"] = job.retry;
  j["queue"] = job.queue;
  if (cls.active_job) {
    auto wrapped = active_job_hash(cls, job, now);
    if (!wrapped) return std::unexpected(wrapped.error());
    j["class"] = "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper";
    j["wrapped"] = cls.name;
    j["args"] = json::array{std::move(*wrapped)};
  } else {
    j["class"] = cls.name;
    j["args"] = job.args;
  }
  j["jid"] = job.jid;
  j["created_at"] = time_value(job.created_at, format);
  if (!job.at) j["enqueued_at"] = time_value(now, format);
  return json::serialize(j);
}

std::string key(std::string_view ns, std::string_view name) {
  if (ns.empty()) return std::string(name);
  return fmt::format("{}:{}", ns, name);
}

std::string new_jid(std::mt19937_64& rng) { return hex(rng, 12); }

std::string new_uuid(std::mt19937_64& rng) {
  auto h = hex(rng, 16);
  h[12] = '4';                                             // version 4
  h[16] = "89ab"[std::stoi(h.substr(16, 1), nullptr, 16) & 3];  // the RFC 4122 variant
  return fmt::format("{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4), h.substr(16, 4),
                     h.substr(20));
}

}  // namespace sluice::connectors::sidekiq
