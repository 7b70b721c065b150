#include "runtime/output_stage.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <random>

#include "logging/log.h"
#include "metrics/metrics.h"
#include "ratelimit/rate_limit.h"
#include "runtime/adaptive_concurrency.h"
#include "runtime/backoff.h"
#include "runtime/channel.h"
#include "runtime/sleep.h"
#include "async/spawn.h"

namespace sluice::runtime {

namespace asio = boost::asio;
using asio::use_awaitable;

struct OutputStage::Impl : std::enable_shared_from_this<Impl> {
  Impl(const config::OutputConfig& c, BuildContext& ctx, StageLabels l, size_t entry_capacity)
      : cfg(c),
        labels(std::move(l)),
        build(ctx),
        io(ctx.io()),
        clock(ctx.clock()),
        output(c.component.spec->make_output(c.component.values, ctx)),
        rate_limit(c.rate_limit.empty() ? nullptr : ctx.rate_limit(c.rate_limit)),
        writers_channel(ctx.io(), std::max(entry_capacity, static_cast<size_t>(c.max_in_flight))),
        receive_turn(ctx.io(), 1),
        rng(std::random_device{}()) {
    const metrics::Labels ml = {{"pipeline", labels.pipeline}, {"component", labels.component}};
    auto& m = ctx.metrics();
    sent = &m.counter("sluice_output_sent_total", "Messages an output confirmed.", ml);
    errors = &m.counter("sluice_output_errors_total", "Messages an output failed to write (per attempt).", ml);
    retries = &m.counter("sluice_output_retries_total", "Messages written again after a failure.", ml);
    dead_lettered = &m.counter("sluice_output_dead_lettered_total", "Messages sent to the dead letter output.", ml);
    rejected = &m.counter("sluice_output_rejected_total",
                          "Messages that failed for good with no dead letter; their source is told rejected.", ml);
    nacked = &m.counter("sluice_output_nacked_total",
                        "Messages refused for overload on every attempt (a full disk, 429s) with no dead letter; "
                        "their source is nacked and keeps them.", ml);
    in_flight = &m.gauge("sluice_output_in_flight", "Writes under way.", ml);
    batch_size = &m.histogram("sluice_output_batch_size", "Messages per write.", ml, metrics::size_buckets());
    if (rate_limit) {
      rate_wait = &m.histogram("sluice_rate_limit_wait_seconds", "Time messages waited for a rate limit token.",
                               {{"pipeline", labels.pipeline}, {"rate_limit", c.rate_limit}},
                               metrics::latency_buckets());
    }
    if (c.adaptive_concurrency) {
      adaptive.emplace(AdaptiveConcurrencyOptions{.max = static_cast<size_t>(c.max_in_flight)});
      permits.emplace(ctx.io(), static_cast<size_t>(c.max_in_flight));
      concurrency_limit = &m.gauge("sluice_output_concurrency_limit",
                                   "Writes allowed at once by adaptive concurrency.", ml);
      issue_permits(adaptive->start());
    }
    if (c.then) {
      then = std::make_unique<OutputStage>(*c.then, ctx,
                                           StageLabels{labels.pipeline, "then." + c.then->component.spec->name});
    }
    if (c.dead_letter) {
      dead_letter = std::make_unique<OutputStage>(
          *c.dead_letter, ctx, StageLabels{labels.pipeline, "dead_letter." + c.dead_letter->component.spec->name});
    }
    receive_turn.try_send(boost::system::error_code{});
    pushed_to = entry_capacity > 0;
    const auto& b = c.batching;
    rebatch = b.count > 1 || b.bytes > 0 || b.period.count() > 0;
    if (rebatch) batcher_channel.emplace(ctx.io(), std::max(entry_capacity, static_cast<size_t>(c.max_in_flight)));
    max_split = output->max_batch();
    auto limit_split = [this](size_t n) {
      if (n > 0 && (max_split == 0 || n < max_split)) max_split = n;
    };
    if (rebatch) limit_split(static_cast<size_t>(b.count));
    // Under a rate limit, writes of at most `burst` messages keep sends as
    // smooth as the bucket allows instead of in input-sized lumps.
    if (rate_limit && !rebatch) limit_split(static_cast<size_t>(std::max(1.0, rate_limit->spec().burst)));
  }

  const config::OutputConfig& cfg;
  StageLabels labels;
  BuildContext& build;  // the engine's: outlives every stage
  asio::io_context& io;
  const core::Clock& clock;
  std::unique_ptr<Output> output;
  ratelimit::RateLimit* rate_limit;
  std::unique_ptr<OutputStage> dead_letter;
  std::unique_ptr<OutputStage> then;
  BatchChannel writers_channel;
  // Holds one token: the writer that has it is the one receiving.
  asio::experimental::concurrent_channel<void(boost::system::error_code)> receive_turn;
  std::optional<BatchChannel> batcher_channel;
  bool rebatch = false;
  bool pushed_to = false;  // the entry is a push input's intake
  size_t max_split = 0;
  std::atomic<int> writers_left{0};
  std::function<void()> on_done;
  std::mutex rng_mu;
  std::mt19937_64 rng;
  // `concurrency: adaptive`: a write takes a permit first; the limiter
  // decides how many permits exist.
  std::optional<AdaptiveConcurrency> adaptive;
  std::optional<asio::experimental::concurrent_channel<void(boost::system::error_code)>> permits;
  metrics::Gauge* concurrency_limit = nullptr;

  metrics::Counter *sent, *errors, *retries, *dead_lettered, *rejected, *nacked;
  metrics::Gauge* in_flight;
  metrics::Histogram* batch_size;
  metrics::Histogram* rate_wait = nullptr;

  BatchChannel& entry() { return batcher_channel ? *batcher_channel : writers_channel; }

  // One writer at a time waits on the channel (it holds the receive turn):
  // messages that arrive while its wake-up is pending wait in the channel
  // and go out in its one write, instead of waking a writer each.
  Task<void> writer() {
    for (bool ended = false; !ended;) {
      co_await receive_turn.async_receive(asio::as_tuple(use_awaitable));
      auto [ec, batch] = co_await writers_channel.async_receive(asio::as_tuple(use_awaitable));
      ended = ec || batch.empty() || take_waiting(batch);
      receive_turn.try_send(boost::system::error_code{});
      if (batch.empty()) break;
      for (auto& piece : std::move(batch).split(max_split)) co_await write_with_retries(std::move(piece));
    }
    if (--writers_left == 0) {
      co_await output->close();
      if (dead_letter) co_await dead_letter->finish();  // no more failures come; it reports its own end
      if (then)
        co_await then->finish();  // its writers end next, and report done for both
      else if (on_done)
        on_done();
    }
  }

  // Fed by a push input (one message per batch), a writer adds the batches
  // already waiting to `batch`, up to one write's worth, so that webhooks
  // are written together. True if it took an end marker: the writer stops
  // after this write (each writer takes one marker, so the others still find
  // theirs). A batcher, when there is one, has sized the batch already.
  bool take_waiting(core::Batch& batch) {
    if (!pushed_to || rebatch) return false;
    constexpr size_t kMostMerged = 256;  // bounds a write when the output takes any size
    const size_t limit = max_split > 0 ? max_split : kMostMerged;
    bool ended = false;
    while (!ended && batch.size() < limit && writers_channel.ready()) {
      const bool took = writers_channel.try_receive([&](boost::system::error_code ec, core::Batch more) {
        if (ec || more.empty()) {
          ended = true;
          return;
        }
        for (auto& m : more.messages) batch.messages.push_back(std::move(m));
      });
      if (!took) break;
    }
    return ended;
  }

  // Gathers batches up to count / bytes, or until `period` after the first
  // message, then hands them to the writers.
  Task<void> batcher() {
    const auto& b = cfg.batching;
    core::Batch pending;
    size_t pending_bytes = 0;
    // The period is measured on the injected clock; the timer only says when
    // to look at it again (see runtime/sleep.h).
    asio::steady_timer timer(io);
    int64_t period_ends = 0;
    bool ended = false;
    while (!ended) {
      core::Batch incoming;
      bool period_over = false;
      if (pending.empty() || b.period.count() == 0) {
        auto [ec, got] = co_await batcher_channel->async_receive(asio::as_tuple(use_awaitable));
        if (ec || got.empty()) ended = true;
        incoming = std::move(got);
      } else {
        // Receive or the period ends, whichever is first. Not `||`: it drops
        // the loser's result, and a receive that completed just as the timer
        // fired would lose its batch (and nack it). The group reports both.
        auto [order, ec, got, timer_ec] =
            co_await asio::experimental::make_parallel_group(batcher_channel->async_receive(asio::deferred),
                                                             timer.async_wait(asio::deferred))
                .async_wait(asio::experimental::wait_for_one(), use_awaitable);
        period_over = !timer_ec && clock.now_ns() >= period_ends;
        if (!timer_ec && !period_over) timer.expires_after(real_wait(clock, period_ends));
        if (!ec) {
          if (got.empty()) ended = true;
          incoming = std::move(got);
        }
      }
      for (auto& m : incoming.messages) {
        if (pending.empty() && b.period.count() > 0) {
          period_ends = clock.now_ns() + b.period.count();
          timer.expires_after(real_wait(clock, period_ends));
        }
        pending_bytes += m.payload().size();
        pending.messages.push_back(std::move(m));
        const bool full = static_cast<int64_t>(pending.size()) >= b.count ||
                          (b.bytes > 0 && static_cast<int64_t>(pending_bytes) >= b.bytes);
        if (full) co_await flush(pending, pending_bytes);
      }
      // No waiting allowed, or the wait is over: what is here goes now.
      const bool no_wait = b.period.count() == 0 && batcher_channel->ready() == false;
      if (!pending.empty() && (no_wait || period_over)) co_await flush(pending, pending_bytes);
    }
    co_await flush(pending, pending_bytes);
    for (int64_t i = 0; i < cfg.max_in_flight; ++i) co_await writers_channel.async_send({}, core::Batch{}, use_awaitable);
  }

  Task<void> flush(core::Batch& pending, size_t& pending_bytes) {
    if (pending.empty()) co_return;
    core::Batch out = std::move(pending);
    pending = core::Batch{};
    pending_bytes = 0;
    co_await writers_channel.async_send({}, std::move(out), use_awaitable);
  }

  Task<void> write_with_retries(core::Batch batch) {
    in_flight->add(1);
    int attempt = 0;
    while (!batch.empty()) {
      std::vector<core::Message> failed, given_back;
      std::vector<std::string> reasons, given_back_reasons;
      if (rate_limit) co_await take_tokens(batch, failed, reasons);
      if (batch.empty()) {
        co_await fail(std::move(failed), std::move(reasons), attempt);
        break;
      }
      ++attempt;
      batch_size->observe(static_cast<double>(batch.size()));
      BatchOutcome outcome = co_await write_once(batch);
      core::Batch again;
      core::Batch confirmed;  // for `then`
      core::Nanos hint{0};
      std::string last_reason;
      for (size_t i = 0; i < batch.size(); ++i) {
        auto& m = batch.messages[i];
        const WriteOutcome& o = outcome.at(i);
        if (o.kind == WriteOutcome::Kind::ok) {
          sent->inc();
          if (then)
            confirmed.messages.push_back(std::move(m));  // `then` resolves its ack
          else
            m.ack().resolve(core::AckStatus::delivered);
          continue;
        }
        errors->inc();
        if (o.kind == WriteOutcome::Kind::retry && attempt < cfg.retry.max_attempts) {
          hint = std::max(hint, o.retry_after);
          last_reason = o.reason;
          again.messages.push_back(std::move(m));
        } else {
          // Refused for overload every time (a full disk, 429s) is not a
          // verdict on the message: its source keeps it.
          const bool retried = o.kind == WriteOutcome::Kind::retry;
          const bool give_back = retried && o.overloaded;
          (give_back ? given_back_reasons : reasons)
              .push_back(retried ? fmt::format("gave up after {} attempts: {}", attempt, o.reason) : o.reason);
          (give_back ? given_back : failed).push_back(std::move(m));
        }
      }
      if (!confirmed.empty()) co_await then->push(std::move(confirmed));
      if (!failed.empty()) co_await fail(std::move(failed), std::move(reasons), attempt);
      if (!given_back.empty())
        co_await fail(std::move(given_back), std::move(given_back_reasons), attempt, core::AckStatus::errored);
      if (again.empty()) break;
      retries->inc(again.size());
      core::Nanos delay;
      {
        std::lock_guard lock(rng_mu);
        delay = backoff_delay({cfg.retry.initial, cfg.retry.max}, attempt - 1, hint, rng);
      }
      logging::limited(logging::Level::warn, labels.pipeline + "/" + labels.component + "/retry",
                       fmt::format("pipeline '{}' output '{}': {} message(s) failed ({}); retrying in {}ms",
                                   labels.pipeline, labels.component, again.size(), last_reason,
                                   delay.count() / 1'000'000));
      logging::debug("pipeline '{}' output '{}': attempt {} of {} failed for {} message(s) ({}); next in {} ms",
                     labels.pipeline, labels.component, attempt, cfg.retry.max_attempts, again.size(), last_reason,
                     delay.count() / 1'000'000);
      co_await sleep_for(clock, delay);
      batch = std::move(again);
    }
    in_flight->add(-1);
  }

  // One attempt; under adaptive concurrency it waits for a permit and
  // reports the round-trip and any overload answer.
  Task<BatchOutcome> write_once(core::Batch& batch) {
    if (!adaptive) co_return co_await output->write(batch);
    co_await permits->async_receive(asio::as_tuple(use_awaitable));
    adaptive->began();
    const int64_t began = clock.now_ns();
    BatchOutcome outcome = co_await output->write(batch);
    bool overloaded = false;
    for (size_t i = 0; i < batch.size(); ++i) overloaded = overloaded || outcome.at(i).overloaded;
    const int64_t now = clock.now_ns();
    issue_permits(adaptive->finished(now, core::Nanos(now - began), overloaded));
    co_return outcome;
  }

  void issue_permits(size_t n) {
    for (size_t i = 0; i < n; ++i) permits->try_send(boost::system::error_code{});
    concurrency_limit->set(static_cast<int64_t>(adaptive->limit()));
  }

  // Reserves the batch's tokens in one backend call, then waits once for the
  // last of them. A message whose cost or key cannot be computed fails for
  // good; a backend that cannot be asked (a shared limiter down) is
  // transient: asked again with backoff, nothing sent meanwhile.
  Task<void> take_tokens(core::Batch& batch, std::vector<core::Message>& failed, std::vector<std::string>& reasons) {
    // Named, not built inside co_await (GCC 12; see async/blocking.h).
    const std::function<std::optional<double>(const core::Message&)> cost = [this](const core::Message& m) {
      return output->cost(m);
    };
    for (int attempt = 0;; ++attempt) {
      auto r = co_await rate_limit->reserve_batch(batch, cost);
      if (r) {
        core::Batch kept;
        kept.messages.reserve(batch.size());
        for (size_t i = 0; i < batch.size(); ++i) {
          if (r->refused[i]) {
            reasons.push_back(r->refused[i]->to_string());
            failed.push_back(std::move(batch.messages[i]));
          } else {
            kept.messages.push_back(std::move(batch.messages[i]));
          }
        }
        co_await sleep_for(clock, r->wait);
        if (rate_wait) rate_wait->observe(static_cast<double>(r->wait.count()) / 1e9, kept.size());
        batch = std::move(kept);
        co_return;
      }
      core::Nanos delay;
      {
        std::lock_guard lock(rng_mu);
        delay = backoff_delay({cfg.retry.initial, cfg.retry.max}, attempt, core::Nanos(0), rng);
      }
      logging::limited(logging::Level::warn, labels.pipeline + "/" + labels.component + "/rate_limit",
                       fmt::format("pipeline '{}' output '{}': rate limit '{}' unavailable ({}); asking again in {} ms",
                                   labels.pipeline, labels.component, rate_limit->name(), r.error().to_string(),
                                   delay.count() / 1'000'000));
      co_await sleep_for(clock, delay);
    }
  }

  // Without a dead letter, `status` goes to the source: rejected (a verdict
  // on the message: the queue moves it to `.dead`, a webhook gets 500) or
  // errored (refused for overload: the queue delivers it again, a webhook
  // gets 503 and Retry-After).
  Task<void> fail(std::vector<core::Message> messages, std::vector<std::string> reasons, int attempts,
                  core::AckStatus status = core::AckStatus::rejected) {
    if (messages.empty()) co_return;
    const bool reject = status == core::AckStatus::rejected;
    logging::limited(logging::Level::error, labels.pipeline + "/" + labels.component + (reject ? "/fail" : "/give-back"),
                     fmt::format("pipeline '{}' output '{}': {} message(s) {}: {}{}", labels.pipeline,
                                 labels.component, messages.size(), reject ? "failed for good" : "not taken",
                                 reasons.front(),
                                 dead_letter ? "; sent to the dead letter"
                                 : reject    ? "; rejected to their source"
                                             : "; nacked: their source keeps them"));
    if (!dead_letter) {
      for (auto& m : messages) m.ack().resolve(status);
      (reject ? rejected : nacked)->inc(messages.size());
      build.note_failed_for_good(messages.size(), reasons.front());
      co_return;
    }
    core::Batch dl;
    for (size_t i = 0; i < messages.size(); ++i) {
      auto& m = messages[i];
      m.meta().set("error", reasons[i]);
      m.meta().set("error_output", labels.component);
      m.meta().set("error_pipeline", labels.pipeline);
      m.meta().set("attempts", std::to_string(attempts));
      dl.messages.push_back(std::move(m));
    }
    dead_lettered->inc(dl.size());
    co_await dead_letter->push(std::move(dl));
  }
};

OutputStage::OutputStage(const config::OutputConfig& cfg, BuildContext& ctx, StageLabels labels,
                         size_t entry_capacity)
    : impl_(std::make_shared<Impl>(cfg, ctx, std::move(labels), entry_capacity)) {}

OutputStage::~OutputStage() = default;

const StageLabels& OutputStage::labels() const { return impl_->labels; }

bool OutputStage::has_dead_letter() const { return impl_->dead_letter != nullptr; }

Task<void> OutputStage::deliver_dead_letter(core::Batch batch) {
  auto self = impl_;
  self->dead_lettered->inc(batch.size());
  co_await self->dead_letter->push(std::move(batch));
}

void OutputStage::start(std::function<void()> on_done) {
  // The dead letter is a stage of its own (its batching, concurrency and
  // `then` apply), started here and finished when this stage's writers end.
  // This stage is done when both it (or its `then`) and the dead letter are.
  if (impl_->dead_letter) {
    auto left = std::make_shared<std::atomic<int>>(2);
    on_done = [left, all_done = std::move(on_done)] {
      if (--*left == 0 && all_done) all_done();
    };
    impl_->dead_letter->start(on_done);
  }
  if (impl_->then)
    impl_->then->start(std::move(on_done));  // the stage is done when `then` is
  else
    impl_->on_done = std::move(on_done);
  impl_->writers_left = static_cast<int>(impl_->cfg.max_in_flight);
  for (int64_t i = 0; i < impl_->cfg.max_in_flight; ++i)
    async::spawn(impl_->io, [self = impl_]() { return self->writer(); });
  if (impl_->rebatch) async::spawn(impl_->io, [self = impl_]() { return self->batcher(); });
}

Task<void> OutputStage::push(core::Batch batch) {
  auto pieces = std::move(batch).split(impl_->rebatch ? 0 : impl_->max_split);
  for (auto& piece : pieces) co_await impl_->entry().async_send({}, std::move(piece), use_awaitable);
}

bool OutputStage::try_push(core::Batch& batch) {
  // try_send leaves its argument alone when the channel is full.
  return impl_->entry().try_send(boost::system::error_code{}, std::move(batch));
}

Task<void> OutputStage::finish() {
  // One end marker per consumer of the entry channel.
  const int64_t consumers = impl_->rebatch ? 1 : impl_->cfg.max_in_flight;
  for (int64_t i = 0; i < consumers; ++i) co_await impl_->entry().async_send({}, core::Batch{}, use_awaitable);
}

}  // namespace sluice::runtime
