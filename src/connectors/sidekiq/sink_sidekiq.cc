// The sidekiq output: each batch as one MULTI/EXEC, the way
// Sidekiq::Client.push_bulk writes: SADD queues, one LPUSH per queue with
// all of its jobs in order, ZADD schedule for jobs with a future `at`.
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <map>
#include <mutex>

#include "config/config.h"
#include "connectors/redis/settings.h"
#include "connectors/sidekiq/job.h"
#include "connectors/sidekiq/sidekiq.h"
#include "core/message.h"
#include "core/rfc3339.h"
#include "logging/log.h"
#include "redis/client.h"
#include "runtime/component.h"
#include "template/template.h"

namespace sluice::connectors {
namespace {

using runtime::WriteOutcome;
namespace json = boost::json;

// `at` as rendered: epoch seconds, epoch milliseconds (above 10^11) or RFC
// 3339; empty means now.
core::Result<std::optional<double>> parse_at(const std::string& text) {
  if (text.empty()) return std::nullopt;
  double n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc() && end == text.data() + text.size()) return n > 1e11 ? n / 1000 : n;
  if (auto t = core::parse_rfc3339(text))
    return std::chrono::duration<double>(t->time_since_epoch()).count();
  return core::fail(core::Errc::invalid_payload,
                    fmt::format("`at` rendered '{}', which is neither epoch seconds nor an RFC 3339 time", text));
}

json::value parse_retry(const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  return std::stoll(text);  // validated at load
}

class SidekiqOutput final : public runtime::Output {
 public:
  SidekiqOutput(const config::Values& v, runtime::BuildContext& ctx)
      : client_(redis_settings::client_for(v, ctx)),
        class_{v.has("class") ? v.str("class") : v.str("active_job"), v.has("active_job")},
        queue_(v.tmpl("queue")),
        namespace_(v.str("namespace")),
        format_(sidekiq::format_named(v.str("format"))),
        retry_(parse_retry(v.str("retry"))),
        max_batch_(static_cast<size_t>(v.integer("max_batch"))),
        rng_(std::random_device{}()) {
    if (v.has("args")) args_ = v.tmpl_list("args");
    if (v.has("at")) at_ = v.tmpl("at");
  }

  size_t max_batch() const override { return max_batch_; }

  runtime::Task<runtime::BatchOutcome> write(core::Batch& batch) override {
    runtime::BatchOutcome outcome;
    const double now = sidekiq::now_seconds();
    std::map<std::string, std::vector<size_t>> by_queue;  // queue -> messages pushed now
    std::vector<size_t> scheduled;
    std::vector<std::string> jobs(batch.size());
    std::vector<double> at(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      auto job = build(batch.messages[i], now);
      if (!job) {
        outcome.set(i, batch.size(), WriteOutcome::reject(job.error().to_string()));
        continue;
      }
      auto text = sidekiq::job_json(class_, *job, format_, now);
      if (!text) {
        outcome.set(i, batch.size(), WriteOutcome::reject(text.error().to_string()));
        continue;
      }
      jobs[i] = std::move(*text);
      if (job->at) {
        at[i] = *job->at;
        scheduled.push_back(i);
      } else {
        by_queue[job->queue].push_back(i);
      }
    }
    if (by_queue.empty() && scheduled.empty()) co_return outcome;

    // Commands after MULTI, each with the messages it carries.
    std::vector<redis::Command> commands{{"MULTI"}};
    std::vector<std::vector<size_t>> carried;
    if (!by_queue.empty()) {
      redis::Command sadd{"SADD", sidekiq::key(namespace_, "queues")};
      for (const auto& [queue, indices] : by_queue) sadd.push_back(queue);
      commands.push_back(std::move(sadd));
      carried.emplace_back();  // the jobs are pushed whether or not `queues` lists the queue
    }
    for (const auto& [queue, indices] : by_queue) {
      redis::Command lpush{"LPUSH", sidekiq::key(namespace_, "queue:" + queue)};
      for (size_t i : indices) lpush.push_back(std::move(jobs[i]));
      commands.push_back(std::move(lpush));
      carried.push_back(indices);
    }
    if (!scheduled.empty()) {
      redis::Command zadd{"ZADD", sidekiq::key(namespace_, "schedule")};
      for (size_t i : scheduled) {
        zadd.push_back(fmt::format("{}", at[i]));
        zadd.push_back(std::move(jobs[i]));
      }
      commands.push_back(std::move(zadd));
      carried.push_back(scheduled);
    }
    commands.push_back({"EXEC"});
    auto replies = co_await client_->pipeline(std::move(commands));
    auto all = [&](const WriteOutcome& o) {
      for (const auto& indices : carried)
        for (size_t i : indices) outcome.set(i, batch.size(), o);
    };
    if (!replies) {
      // Not known to have run: at least once means pushing again (the jid
      // stays the same, so a duplicate is recognisable).
      all(replies.error().is(core::Errc::timeout) ? WriteOutcome::overload(replies.error().to_string())
                                                  : WriteOutcome::retry(replies.error().to_string()));
      co_return outcome;
    }
    const redis::Reply& exec = replies->back();
    if (exec.type != redis::Reply::Type::array || exec.elements.size() != carried.size()) {
      // EXECABORT: a command was refused when queued (OOM, READONLY);
      // nothing ran. Its own reply says why.
      std::string why = exec.describe();
      for (const auto& r : *replies)
        if (r.is_error()) why = r.text;
      all(why.starts_with("OOM") ? WriteOutcome::overload("Redis refused the jobs: " + why)
                                 : WriteOutcome::retry("Redis refused the jobs: " + why));
      co_return outcome;
    }
    for (size_t c = 0; c < carried.size(); ++c) {
      const auto& r = exec.elements[c];
      if (!r.is_error()) continue;
      if (carried[c].empty()) {
        logging::limited(logging::Level::warn, "sidekiq queues set",
                         fmt::format("Redis refused SADD {}: {}; the jobs are queued, but Sidekiq's web UI may not "
                                     "list their queue",
                                     sidekiq::key(namespace_, "queues"), r.text));
        continue;
      }
      const std::string why = fmt::format("Redis refused the jobs: {}", r.text);
      const auto o = r.text.starts_with("WRONGTYPE") ? WriteOutcome::reject(why) : WriteOutcome::retry(why);
      for (size_t i : carried[c]) outcome.set(i, batch.size(), o);
    }
    co_return outcome;
  }

 private:
  core::Result<sidekiq::Job> build(core::Message& m, double now) {
    sidekiq::Job job;
    auto queue = queue_.render(m);
    if (!queue) return std::unexpected(queue.error());
    if (queue->empty()) return core::fail(core::Errc::invalid_payload, "the queue renders empty");
    job.queue = std::move(*queue);
    if (args_.empty()) {
      job.args.push_back(m.json() ? *m.json() : json::value(m.payload()));
    } else {
      for (const auto& t : args_) {
        if (const auto* v = t.single_field(m)) {
          job.args.push_back(*v);
          continue;
        }
        auto text = t.render(m);
        if (!text) return std::unexpected(text.error());
        if (t.is_single_field()) job.args.push_back(nullptr);  // an absent field is nil
        else job.args.push_back(json::value(std::move(*text)));
      }
    }
    if (at_) {
      auto text = at_->render(m);
      if (!text) return std::unexpected(text.error());
      auto when = parse_at(*text);
      if (!when) return std::unexpected(when.error());
      if (*when && **when > now) job.at = **when;  // as Sidekiq::Client: a time past runs now
    }
    job.jid = stable_id(m, "sidekiq_jid", [this] { return sidekiq::new_jid(rng_); });
    if (class_.active_job) job.active_job_id = stable_id(m, "active_job_id", [this] { return sidekiq::new_uuid(rng_); });
    job.retry = retry_;
    job.created_at = now;
    return job;
  }

  // Made on the first attempt and kept in the message's metadata, so that
  // every push of one message carries the same id.
  template <typename Make>
  std::string stable_id(core::Message& m, std::string_view key, Make make) {
    if (const auto* id = m.meta().find(key)) return *id;
    std::string id;
    {
      std::lock_guard lock(rng_mu_);
      id = make();
    }
    m.meta().set(key, id);
    return id;
  }

  std::shared_ptr<redis::Client> client_;
  sidekiq::JobClass class_;
  tmpl::Template queue_;
  std::vector<tmpl::Template> args_;
  std::optional<tmpl::Template> at_;
  std::string namespace_;
  sidekiq::Format format_;
  json::value retry_;
  size_t max_batch_;
  std::mutex rng_mu_;  // writes may run concurrently
  std::mt19937_64 rng_;
};

void validate(const config::Values& v) {
  redis_settings::validate_connection(v);
  if (v.has("class") == v.has("active_job"))
    throw v.error("class", "give `class` (a Sidekiq job class) or `active_job` (an ActiveJob class), not both");
  const auto& retry = v.str("retry");
  const bool count = !retry.empty() && retry.size() < 10 &&
                     std::all_of(retry.begin(), retry.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (retry != "true" && retry != "false" && !count)
    throw v.error("retry", fmt::format("retry must be true, false or a number of retries, got '{}'", retry));
}

}  // namespace

config::ComponentSpec sidekiq_output_spec() {
  using config::Type;
  return {
      .name = "sidekiq",
      .kind = config::Kind::output,
      .summary = "Pushes each message as a Sidekiq job that Sidekiq 6, 7 or 8 runs as if Ruby had pushed it: a "
                 "plain job (`class`) or an ActiveJob (`active_job`) in the wrapper Rails writes, optionally under a "
                 "redis-namespace prefix and scheduled (`at`). One MULTI/EXEC per batch, as push_bulk does. A "
                 "message keeps its jid on every push.",
      .fields = redis_settings::with_connection_fields({
          {.name = "class", .doc = "The Sidekiq job class, e.g. HardJob."},
          {.name = "active_job", .doc = "The ActiveJob class, e.g. StatusCallbackJob: pushed as Rails' Sidekiq adapter "
                                        "pushes it (JobWrapper, `wrapped`, the serialized job as the one argument)."},
          {.name = "queue", .type = Type::tmpl, .doc = "The Sidekiq queue; may use {{fields}}.",
           .default_value = "default"},
          {.name = "args", .type = Type::tmpl_list,
           .doc = "The job's arguments, one template each: a template that is one field (\"{{To}}\") keeps the "
                  "field's JSON type (an absent one is nil); others are strings. Default: the whole message as "
                  "the one argument."},
          {.name = "namespace", .doc = "A redis-namespace prefix: jobs go to <namespace>:queue:<queue>.",
           .default_value = ""},
          {.name = "format", .doc = "The Sidekiq version that reads the jobs: 8 writes times as integer "
                                    "milliseconds, 6 and 7 as float seconds.",
           .default_value = "7", .choices = {"6", "7", "8"}},
          {.name = "retry", .doc = "Sidekiq's retry option: true (its default 25), false, or a number.",
           .default_value = "true"},
          {.name = "at", .type = Type::tmpl,
           .doc = "When to run the job: epoch seconds, epoch milliseconds or an RFC 3339 time. A time to come "
                  "goes into the `schedule` set; a past or empty one runs now."},
          {.name = "max_batch", .type = Type::integer, .doc = "Most jobs in one MULTI/EXEC.",
           .default_value = "1000", .min = 1, .max = 100000},
      }),
      .example = "output:\n  sidekiq:\n    url: \"redis://127.0.0.1:6379/0\"\n    active_job: StatusCallbackJob\n"
                 "    queue: callbacks\n    args: [\"{{To}}\", \"{{MessageStatus}}\", \"{{Body}}\", "
                 "\"{{meta.received_at}}\"]",
      .validate = validate,
      .make_output = runtime::build<SidekiqOutput>,
  };
}

}  // namespace sluice::connectors
