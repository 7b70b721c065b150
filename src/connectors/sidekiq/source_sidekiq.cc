// The sidekiq input: sluice as a Sidekiq queue's dedicated worker. Jobs are
// taken from <namespace>:queue:<queue> through a ReliableList (a processing
// list per consumer, recovered at start, reaped when a consumer stops
// heartbeating), and each becomes one message: the job's arguments as a
// JSON list (ActiveJob unwrapped), its class, jid and retry count in
// metadata. Settled as Sidekiq settles its own:
//   delivered -> removed;
//   errored   -> into `retry` with Sidekiq's fields and backoff, or `dead`
//                once its retries are spent (job_retry.h);
//   rejected  -> into `dead` at once;
//   not a job -> onto <queue key>:unreadable, with the reason in the log.
// Each move is one MULTI with the removal from the processing list. The
// input also runs Sidekiq's scheduler (scheduled.h), so retries come back
// without a Ruby Sidekiq process.
#include <boost/asio/this_coro.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <mutex>

#include "async/spawn.h"
#include "config/config.h"
#include "connectors/redis/reliable_list.h"
#include "connectors/redis/settings.h"
#include "connectors/sidekiq/job_reader.h"
#include "connectors/sidekiq/job_retry.h"
#include "connectors/sidekiq/scheduled.h"
#include "connectors/sidekiq/sidekiq.h"
#include "core/message.h"
#include "logging/log.h"
#include "metrics/metrics.h"
#include "runtime/ack_batcher.h"
#include "runtime/build_context.h"
#include "runtime/component.h"
#include "runtime/sleep.h"

namespace sluice::connectors {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

// What Ruby's web UI shows as the exception: sluice knows the outcome, and
// its log and metrics say the output's reason.
const sidekiq::Failure kErrored{"Sluice::DeliveryFailed",
                                "sluice could not deliver the job's message; its log and the output's metrics "
                                "say why"};
const sidekiq::Failure kRejected{"Sluice::Rejected",
                                 "sluice's pipeline refused the job's message for good (dead-lettered); its log "
                                 "says why"};

class SidekiqInput final : public runtime::Input {
 public:
  SidekiqInput(const config::Values& v, runtime::BuildContext& ctx)
      : client_(redis_settings::client_for(v, ctx)),
        queue_(v.str("queue")),
        namespace_(v.str("namespace")),
        queue_key_(sidekiq::key(namespace_, "queue:" + queue_)),
        format_(sidekiq::format_named(v.str("format"))),
        max_retries_(v.integer("max_retries")),
        poll_(v.boolean("scheduler") ? v.duration("poll_interval") : core::Nanos(0)),
        clock_(ctx.clock()),
        list_(client_, ReliableList::options(v, queue_key_, "sluice_sidekiq", "sidekiq " + queue_key_), ctx),
        rng_(std::random_device{}()),
        acks_(ctx.io(), 500, std::chrono::milliseconds(20), [this](Acks::Groups g) { return settle(std::move(g)); }) {
    auto outcome = [&](const char* name) {
      return &ctx.metrics().counter("sluice_sidekiq_jobs_total", "Sidekiq jobs by what became of them.",
                                    {{"pipeline", ctx.pipeline()}, {"queue", queue_key_}, {"outcome", name}});
    };
    received_ = outcome("received");
    done_ = outcome("done");
    retried_ = outcome("retried");
    dead_ = outcome("dead");
    dropped_ = outcome("dropped");
    unreadable_ = outcome("unreadable");
    scheduled_ = &ctx.metrics().counter("sluice_sidekiq_enqueued_total",
                                        "Due jobs of the retry and schedule sets moved into their queues.",
                                        {{"pipeline", ctx.pipeline()}, {"namespace", namespace_}});
  }
  ~SidekiqInput() override { *gone_ = true; }

  runtime::Task<void> start() override {
    co_await list_.start();
    auto ex = co_await asio::this_coro::executor;
    async::spawn(ex, [this] { return acks_.run(); });
    if (poll_.count() > 0) {
      scheduler_running_ = true;
      async::spawn(ex, [this] { return schedule(); });
    }
  }

  runtime::Task<core::Result<core::Batch>> read() override {
    for (;;) {
      if (closed_) co_return core::fail(core::Errc::closed);
      auto items = co_await list_.take();
      if (!items) {
        if (closed_) co_return core::fail(core::Errc::closed);
        co_return std::unexpected(items.error());  // logged; the pipeline retries after a pause
      }
      core::Batch batch;
      std::vector<redis::Command> unreadable;
      for (auto& item : *items) {
        auto job = sidekiq::read_job(item);
        if (!job) {
          logging::limited(logging::Level::warn, "sidekiq-unreadable:" + queue_key_,
                           fmt::format("sidekiq {}: a job that cannot be read ({}) moved to {}:unreadable", queue_key_,
                                       job.error().detail, queue_key_));
          set_aside(unreadable, std::move(item));
          continue;
        }
        batch.messages.push_back(to_message(*job, std::move(item)));
      }
      received_->inc(batch.size());
      unreadable_->inc(items->size() - batch.size());
      co_await settle_patiently(list_.client(), std::move(unreadable), closed_, clock_, "sidekiq " + queue_key_);
      if (!batch.messages.empty()) co_return batch;
    }
  }

  void close() override { closed_ = true; }
  // The last acks, then the heartbeat and the scheduler end; all awaited.
  runtime::Task<void> drain() override {
    co_await acks_.drain();
    co_await list_.stop();
    while (scheduler_running_) co_await runtime::sleep_for(clock_, std::chrono::milliseconds(10));
  }

 private:
  using Acks = runtime::AckBatcher<std::string>;  // the job as taken: its processing-list entry

  core::Message to_message(const sidekiq::ReadJob& job, std::string item) {
    core::Message m(json::serialize(job.args));
    auto& meta = m.meta();
    meta.set("sidekiq_class", job.job_class);
    meta.set("sidekiq_jid", job.jid);
    meta.set("sidekiq_queue", queue_);
    meta.set("sidekiq_retry_count", std::to_string(job.retry_count ? *job.retry_count + 1 : 0));
    if (job.active_job) meta.set("active_job_id", job.active_job_id);
    m.set_ack(acks_.handle(std::move(item)));
    return m;
  }

  // A job that cannot be read, onto <queue key>:unreadable as it was.
  void set_aside(std::vector<redis::Command>& commands, std::string item) {
    list_.move(commands, item, {redis::Command{"LPUSH", queue_key_ + ":unreadable", item}});
  }

  // One pipelined round: an LREM per job done, a MULTI per job retried or dead.
  runtime::Task<void> settle(Acks::Groups g) {
    std::vector<redis::Command> commands;
    for (auto& item : g.delivered) list_.remove(commands, std::move(item));
    done_->inc(g.delivered.size());
    const double now = sidekiq::now_seconds();
    for (auto& item : g.errored) fail(commands, std::move(item), kErrored, false, now);
    for (auto& item : g.rejected) fail(commands, std::move(item), kRejected, true, now);
    co_await settle_patiently(list_.client(), std::move(commands), closed_, clock_, "sidekiq " + queue_key_);
  }

  void fail(std::vector<redis::Command>& commands, std::string item, const sidekiq::Failure& why, bool dead_at_once,
            double now) {
    auto job = sidekiq::read_job(item);  // it was read once, so it reads again
    if (!job) {
      set_aside(commands, std::move(item));
      return;
    }
    job->queue = queue_;
    sidekiq::Disposition d;
    {
      std::lock_guard lock(rng_mu_);
      d = dead_at_once ? sidekiq::dead_now(std::move(*job), why, format_, now)
                       : sidekiq::after_failure(std::move(*job), why, max_retries_, format_, now, rng_);
    }
    const std::string score = fmt::format("{:.6f}", d.score);
    switch (d.where) {
      case sidekiq::Disposition::Where::retry:
        list_.move(commands, std::move(item), {redis::Command{"ZADD", sidekiq::key(namespace_, "retry"), score, d.payload}});
        retried_->inc();
        break;
      case sidekiq::Disposition::Where::dead: {
        // DeadSet#kill: add, then trim by age and by count.
        const std::string dead = sidekiq::key(namespace_, "dead");
        list_.move(commands, std::move(item),
                   {redis::Command{"ZADD", dead, score, d.payload},
                    redis::Command{"ZREMRANGEBYSCORE", dead, "-inf",
                                   fmt::format("{:.6f}", now - sidekiq::kDeadTimeoutSeconds)},
                    redis::Command{"ZREMRANGEBYRANK", dead, "0", std::to_string(-sidekiq::kDeadMaxJobs)}});
        dead_->inc();
        break;
      }
      case sidekiq::Disposition::Where::dropped:
        // `retry: false` (or `dead: false`): Sidekiq drops it, and so do we, saying so.
        logging::limited(logging::Level::warn, "sidekiq-dropped:" + queue_key_,
                         fmt::format("sidekiq {}: a job that failed says retry: false (or dead: false) and is "
                                     "dropped, as Sidekiq drops it",
                                     queue_key_));
        list_.remove(commands, std::move(item));
        dropped_->inc();
        break;
    }
  }

  // Sidekiq's scheduler, every poll_interval until drained.
  runtime::Task<void> schedule() {
    const auto gone = gone_;
    const core::Clock& clock = clock_;
    for (;;) {
      for (core::Nanos slept{0}; !*gone && slept < poll_ && !closed_; slept += std::chrono::milliseconds(50))
        co_await runtime::sleep_for(clock, std::chrono::milliseconds(50));
      if (*gone) co_return;
      if (closed_) break;
      auto r = co_await sidekiq::enqueue_due(*client_, namespace_, format_, sidekiq::now_seconds());
      if (*gone) co_return;
      scheduled_->inc(r.moved);
      if (!r.error.empty() || r.unreadable > 0)
        logging::limited(logging::Level::warn, "sidekiq-scheduler:" + namespace_,
                         fmt::format("sidekiq scheduler: {}{} member(s) of retry/schedule are not jobs and stay",
                                     r.error.empty() ? "" : "Redis: " + r.error + "; ", r.unreadable));
    }
    scheduler_running_ = false;
  }

  std::shared_ptr<redis::Client> client_;
  std::string queue_, namespace_, queue_key_;
  sidekiq::Format format_;
  int64_t max_retries_;
  core::Nanos poll_;
  const core::Clock& clock_;
  ReliableList list_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
  std::atomic<bool> closed_{false}, scheduler_running_{false};
  std::shared_ptr<std::atomic<bool>> gone_ = std::make_shared<std::atomic<bool>>(false);
  metrics::Counter *received_, *done_, *retried_, *dead_, *dropped_, *unreadable_, *scheduled_;
  Acks acks_;
};

void validate(const config::Values& v) {
  redis_settings::validate_connection(v);
  ReliableList::validate(v);
}

}  // namespace

config::ComponentSpec sidekiq_input_spec() {
  using config::Type;
  return {
      .name = "sidekiq",
      .kind = config::Kind::input,
      .summary = "Works a Sidekiq queue as its dedicated worker: takes jobs reliably (a processing list per "
                 "consumer; a crash's jobs come back), gives the pipeline each job's arguments as a JSON list "
                 "(ActiveJob unwrapped), and settles a job as Sidekiq settles its own: done, into `retry` with "
                 "Sidekiq's fields and backoff, or into `dead` once its retries are spent. Runs Sidekiq's "
                 "scheduler for the namespace. Metadata: sidekiq_class, sidekiq_jid, sidekiq_queue, "
                 "sidekiq_retry_count (0 on the first run), active_job_id.",
      .fields = redis_settings::with_connection_fields(ReliableList::with_fields(
          {{.name = "queue", .doc = "The Sidekiq queue.", .default_value = "default"},
           {.name = "namespace", .doc = "A redis-namespace prefix: jobs come from <namespace>:queue:<queue>.",
            .default_value = ""},
           {.name = "format", .doc = "The Sidekiq version of the app: 8 writes times as integer milliseconds, 6 "
                                     "and 7 as float seconds.",
            .default_value = "7", .choices = {"6", "7", "8"}},
           {.name = "max_retries", .type = Type::integer,
            .doc = "Retries for a job that says `retry: true` (Sidekiq's default 25).", .default_value = "25",
            .min = 0, .max = 1000},
           {.name = "scheduler", .type = Type::boolean,
            .doc = "Move due jobs of the `retry` and `schedule` sets into their queues, as every Sidekiq process "
                   "does.",
            .default_value = "true"},
           {.name = "poll_interval", .type = Type::duration, .doc = "How often the scheduler looks.",
            .default_value = "5s", .min = 0.05, .max = 3600}},
                                "job")),
      .example = "input:\n  sidekiq: {url: \"redis://127.0.0.1:6379/0\", namespace: myapp, queue: callbacks}",
      .validate = validate,
      .make_input = runtime::build<SidekiqInput>,
  };
}

}  // namespace sluice::connectors
