// The ledger's components: the `ledger` output (records sends or status
// callbacks) and the `ledger_dedupe` processor (skips recipients whose send
// is already recorded). Both use one ledger per data_dir.
#include "connectors/ledger/ledger.h"

#include <fmt/format.h>

#include <charconv>

#include "async/blocking.h"
#include "config/config.h"
#include "core/clock.h"
#include "metrics/metrics.h"
#include "runtime/component.h"

namespace sluice::connectors {

namespace {

int64_t to_int(const std::string& s, int64_t fallback) {
  int64_t v = fallback;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

void export_metrics(metrics::Registry& m, const std::weak_ptr<ledger::Ledger>& weak) {
  auto counter = [&](const char* name, const char* help, uint64_t ledger::Counters::*field) {
    m.counter_fn(name, help, {}, [weak, field] {
      auto l = weak.lock();
      return l ? static_cast<double>(l->counters().*field) : 0.0;
    });
  };
  counter("sluice_ledger_sends_recorded_total", "Sends recorded in the ledger.", &ledger::Counters::sends_recorded);
  counter("sluice_ledger_statuses_applied_total", "Status callbacks that moved a message forward.",
          &ledger::Counters::statuses_applied);
  counter("sluice_ledger_duplicates_ignored_total", "Status callbacks for a status the message already had.",
          &ledger::Counters::duplicates_ignored);
  counter("sluice_ledger_stale_ignored_total",
          "Status callbacks out of order or after a terminal status: kept in the history only.",
          &ledger::Counters::stale_ignored);
  counter("sluice_ledger_early_callbacks_total", "Status callbacks that arrived before their send was recorded.",
          &ledger::Counters::early_held);
  counter("sluice_ledger_early_reconciled_total", "Early callbacks applied once their send was recorded.",
          &ledger::Counters::early_reconciled);
  m.gauge_fn("sluice_ledger_held_callbacks", "Status callbacks waiting for their send to be recorded.", {}, [weak] {
    auto l = weak.lock();
    return l ? static_cast<double>(l->held()) : 0.0;
  });
}

// Renders `t` for `m`; empty when a field is missing.
std::string render_or_empty(const tmpl::Template& t, const core::Message& m) {
  auto r = t.render(m);
  return r ? std::move(*r) : std::string();
}

class LedgerOutput final : public runtime::Output {
 public:
  LedgerOutput(const config::Values& v, std::shared_ptr<ledger::Ledger> ledger)
      : ledger_(std::move(ledger)),
        sends_(v.str("record") == "sends"),
        alert_id_(v.tmpl("alert_id")),
        recipient_(v.tmpl("recipient")),
        sid_(v.has("sid") ? v.tmpl("sid") : compiled(sends_ ? "{{meta.twilio_sid}}" : "{{MessageSid}}")),
        status_(v.has("status") ? v.tmpl("status") : compiled(sends_ ? "{{meta.twilio_status}}" : "{{MessageStatus}}")),
        error_code_(v.tmpl("error_code")),
        segments_(v.tmpl("segments")) {}

  size_t max_batch() const override { return 0; }

  runtime::Task<runtime::BatchOutcome> write(core::Batch& batch) override {
    runtime::BatchOutcome outcome;
    std::vector<ledger::Send> sends;
    std::vector<ledger::StatusEvent> events;
    const int64_t now = core::unix_ms();
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& m = batch.messages[i];
      std::string sid = render_or_empty(sid_, m);
      if (sid.empty()) {
        outcome.set(i, batch.size(), runtime::WriteOutcome::reject(fmt::format("no message sid ({})", sid_.source())));
        continue;
      }
      if (sends_) {
        const std::string* sent_at = m.meta().find("twilio_sent_at");
        sends.push_back({.alert_id = render_or_empty(alert_id_, m),
                         .recipient = render_or_empty(recipient_, m),
                         .sid = std::move(sid),
                         .status = ledger::parse_status(render_or_empty(status_, m)).value_or(ledger::Status::queued),
                         .at_ms = sent_at ? to_int(*sent_at, now) : now,
                         .segments = to_int(render_or_empty(segments_, m), 1)});
      } else {
        const std::string* received = m.meta().find("received_at");
        events.push_back({.sid = std::move(sid),
                          .status = render_or_empty(status_, m),
                          .error_code = render_or_empty(error_code_, m),
                          .at_ms = received ? to_int(*received, now) : now});
      }
    }
    auto l = ledger_;
    auto work = [l, sends = std::move(sends), events = std::move(events), record_sends = sends_] {
      return record_sends ? l->record_sends(sends) : l->apply_statuses(events);
    };
    auto r = co_await async::run_blocking(std::move(work));  // named: see async/blocking.h
    if (!r) co_return runtime::BatchOutcome::all(runtime::WriteOutcome::retry(r.error().to_string()));
    co_return outcome;
  }

 private:
  static tmpl::Template compiled(std::string_view text) { return tmpl::Template::compile(text).value(); }

  std::shared_ptr<ledger::Ledger> ledger_;
  bool sends_;
  tmpl::Template alert_id_, recipient_, sid_, status_, error_code_, segments_;
};

class LedgerDedupe final : public runtime::Processor {
 public:
  LedgerDedupe(const config::Values& v, std::shared_ptr<ledger::Ledger> ledger, metrics::Counter& skipped)
      : ledger_(std::move(ledger)), alert_id_(v.tmpl("alert_id")), recipient_(v.tmpl("recipient")), skipped_(skipped) {}

  runtime::Task<void> process(core::Batch& batch, std::vector<runtime::Failure>&) override {
    std::vector<std::pair<std::string, std::string>> keys;
    keys.reserve(batch.size());
    for (const auto& m : batch.messages) keys.emplace_back(render_or_empty(alert_id_, m), render_or_empty(recipient_, m));
    auto l = ledger_;
    auto check = [l, keys = std::move(keys)] {
      std::vector<bool> recorded;
      recorded.reserve(keys.size());
      for (const auto& [alert, recipient] : keys) recorded.push_back(l->send_recorded(alert, recipient));
      return recorded;
    };
    const std::vector<bool> recorded = co_await async::run_blocking(std::move(check));  // named: see async/blocking.h
    size_t i = 0;
    batch.retain([&](core::Message& m) {
      if (!recorded[i++]) return true;
      m.ack().resolve(core::AckStatus::delivered);  // sent before: done
      skipped_.inc();
      return false;
    });
  }

 private:
  std::shared_ptr<ledger::Ledger> ledger_;
  tmpl::Template alert_id_, recipient_;
  metrics::Counter& skipped_;
};

config::Field alert_id_field() {
  return {.name = "alert_id", .type = config::Type::tmpl, .doc = "The alert a send belongs to.",
          .default_value = "{{alert_id}}"};
}
config::Field recipient_field() {
  return {.name = "recipient", .type = config::Type::tmpl, .doc = "The recipient of a send.",
          .default_value = "{{to}}"};
}

}  // namespace

std::shared_ptr<ledger::Ledger> shared_ledger(runtime::BuildContext& ctx) {
  const std::string& dir = ctx.config().data_dir;
  return ctx.shared<ledger::Ledger>("ledger:" + dir, [&] {
    auto l = ledger::open_sqlite_ledger(dir);
    export_metrics(ctx.metrics(), l);
    return l;
  });
}

namespace {
std::shared_ptr<ledger::Ledger> open_for(const config::Values& v, runtime::BuildContext& ctx, const char* field) {
  try {
    return shared_ledger(ctx);
  } catch (const std::runtime_error& e) {
    throw v.error(field, fmt::format("ledger: {}", e.what()));
  }
}
}  // namespace

config::ComponentSpec ledger_output_spec() {
  using config::Type;
  return {
      .name = "ledger",
      .kind = config::Kind::output,
      .summary = "Records sends or status callbacks in the delivery ledger (`<data_dir>/ledger.db`), which keeps "
                 "exact per-alert counts: a callback only moves its message forward (queued < sending < sent < "
                 "delivered | undelivered | failed), duplicates and late ones count nothing, and one that beats "
                 "its send is held until the send is recorded. Recording is idempotent, so retries are safe. "
                 "Sends come from a `twilio` output's `then:`; callbacks from an http_server's messages "
                 "(their metadata `received_at` is the callback's time).",
      .fields = {{.name = "record", .doc = "What the messages are.", .required = true,
                  .choices = {"sends", "statuses"}},
                 alert_id_field(),
                 recipient_field(),
                 {.name = "sid", .type = Type::tmpl,
                  .doc = "The provider's message id; default {{meta.twilio_sid}} for sends, {{MessageSid}} for "
                         "statuses."},
                 {.name = "status", .type = Type::tmpl,
                  .doc = "The status; default {{meta.twilio_status}} for sends, {{MessageStatus}} for statuses."},
                 {.name = "error_code", .type = Type::tmpl, .doc = "A failure's error code (statuses).",
                  .default_value = "{{ErrorCode}}"},
                 {.name = "segments", .type = Type::tmpl, .doc = "SMS segments of a send.",
                  .default_value = "{{meta.twilio_segments}}"}},
      .example = "output:\n  twilio: {...}\n  then:\n    ledger: {record: sends}\n    batching: {count: 500, period: 20ms}",
      .make_output = [](const config::Values& v, runtime::BuildContext& ctx) -> std::unique_ptr<runtime::Output> {
        return std::make_unique<LedgerOutput>(v, open_for(v, ctx, "record"));
      },
  };
}

config::ComponentSpec ledger_dedupe_spec() {
  return {
      .name = "ledger_dedupe",
      .kind = config::Kind::processor,
      .summary = "Drops (acknowledges) messages whose recipient already has a recorded send for the alert, so "
                 "a message delivered again after a crash is not sent twice once its send was recorded.",
      .fields = {alert_id_field(), recipient_field()},
      .example = "processors:\n  - ledger_dedupe: {}",
      .make_processor = [](const config::Values& v, runtime::BuildContext& ctx) -> std::unique_ptr<runtime::Processor> {
        auto& skipped = ctx.metrics().counter("sluice_ledger_skipped_sends_total",
                                              "Messages not sent because their recipient's send was recorded.",
                                              {{"pipeline", ctx.pipeline()}});
        return std::make_unique<LedgerDedupe>(v, open_for(v, ctx, "alert_id"), skipped);
      },
  };
}

}  // namespace sluice::connectors
