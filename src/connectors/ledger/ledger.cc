// The ledger's components: the `ledger` output (records sends or status
// callbacks) and the `ledger_dedupe` processor (skips recipients whose send
// is already recorded). Both use one ledger per data_dir.
#include "connectors/ledger/ledger.h"

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <random>

#include "config/config.h"
#include "core/clock.h"
#include "core/json_text.h"
#include "logging/log.h"
#include "metrics/metrics.h"
#include "runtime/component.h"
#include "runtime/sleep.h"

namespace sluice::connectors {

namespace {

int64_t to_int(const std::string& s, int64_t fallback) {
  int64_t v = fallback;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

void export_metrics(metrics::Registry& m, const std::weak_ptr<ledger::Store>& weak) {
  auto counter = [&](const char* name, const char* help, uint64_t ledger::Counters::*field) {
    m.counter_fn(name, help, {}, [weak, field] {
      auto l = weak.lock();
      return l ? static_cast<double>(l->stats().counted.*field) : 0.0;
    });
  };
  using S = ledger::Counters;
  counter("sluice_ledger_sends_recorded_total", "Sends recorded in the ledger.", &S::sends_recorded);
  counter("sluice_ledger_statuses_applied_total", "Status callbacks that moved a message forward.", &S::statuses_applied);
  counter("sluice_ledger_duplicates_ignored_total", "Status callbacks for a status the message already had.",
          &S::duplicates_ignored);
  counter("sluice_ledger_stale_ignored_total",
          "Status callbacks out of order or after a terminal status: kept in the history only.", &S::stale_ignored);
  counter("sluice_ledger_sends_duplicate_total", "Sends recorded again (a retried batch, a redelivery): counted once.",
          &S::sends_duplicate);
  counter("sluice_ledger_sid_conflicts_total",
          "Sends whose provider sid already belonged to another recipient or alert (kept apart; see the log).",
          &S::sid_conflicts);
  counter("sluice_ledger_unknown_statuses_total", "Status callbacks with a status the ledger does not know: history only.",
          &S::unknown_ignored);
  counter("sluice_ledger_early_callbacks_total", "Status callbacks that arrived before their send was recorded.",
          &S::early_held);
  counter("sluice_ledger_early_reconciled_total", "Early callbacks applied once their send was recorded.",
          &S::early_reconciled);
  counter("sluice_ledger_resends_ordered_total",
          "Failed messages put on the send queue again by their alert's resend policy.", &S::resends_ordered);
  counter("sluice_ledger_late_callbacks_total", "Status callbacks timed after their alert's window.",
          &S::late_callbacks);
  m.gauge_fn("sluice_ledger_held_callbacks", "Status callbacks waiting for their send to be recorded.", {}, [weak] {
    auto l = weak.lock();
    return l ? static_cast<double>(l->stats().held) : 0.0;
  });
}

// Renders `t` for `m`; empty when a field is missing.
std::string render_or_empty(const tmpl::Template& t, const core::Message& m) {
  auto r = t.render(m);
  return r ? std::move(*r) : std::string();
}

// Which attempt `m` is (its `attempt` template): 1 when missing or not a number.
int64_t attempt_of(const tmpl::Template& attempt, const core::Message& m) {
  return std::max<int64_t>(1, to_int(render_or_empty(attempt, m), 1));
}

class LedgerOutput final : public runtime::Output {
 public:
  LedgerOutput(const config::Values& v, std::shared_ptr<ledger::Store> ledger)
      : ledger_(std::move(ledger)),
        record_(v.str("record") == "sends" ? Record::sends
                : v.str("record") == "failures" ? Record::failures
                                                : Record::statuses),
        alert_id_(v.tmpl("alert_id")),
        recipient_(v.tmpl("recipient")),
        sid_(v.has("sid") ? v.tmpl("sid") : compiled(record_ == Record::statuses ? "{{MessageSid}}" : "{{meta.twilio_sid}}")),
        status_(v.has("status") ? v.tmpl("status")
                                : compiled(record_ == Record::statuses ? "{{MessageStatus}}" : "{{meta.twilio_status}}")),
        error_code_(v.has("error_code")
                        ? v.tmpl("error_code")
                        : compiled(record_ == Record::statuses ? "{{ErrorCode}}" : "{{meta.twilio_error_code}}")),
        segments_(v.tmpl("segments")),
        attempt_(v.tmpl("attempt")) {}

  size_t max_batch() const override { return 0; }

  runtime::Task<runtime::BatchOutcome> write(core::Batch& batch) override {
    runtime::BatchOutcome outcome;
    std::vector<ledger::Send> sends;
    std::vector<ledger::StatusEvent> events;
    const int64_t now = core::unix_ms();
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& m = batch.messages[i];
      if (record_ == Record::failures) {
        // No provider code: sluice gave up on it (retries exhausted, refused
        // by a processor); the dead letter's `error` metadata says why.
        std::string code = render_or_empty(error_code_, m);
        sends.push_back(ledger::refused_send(render_or_empty(alert_id_, m), render_or_empty(recipient_, m),
                                             code.empty() ? "unsent" : std::move(code), now, attempt_of(attempt_, m)));
        continue;
      }
      std::string sid = render_or_empty(sid_, m);
      if (sid.empty()) {
        outcome.set(i, batch.size(), runtime::WriteOutcome::reject(fmt::format("no message sid ({})", sid_.source())));
        continue;
      }
      if (record_ == Record::sends) {
        const std::string* sent_at = m.meta().find("twilio_sent_at");
        sends.push_back({.alert_id = render_or_empty(alert_id_, m),
                         .recipient = render_or_empty(recipient_, m),
                         .sid = std::move(sid),
                         .status = ledger::parse_status(render_or_empty(status_, m)).value_or(ledger::Status::queued),
                         .at_ms = sent_at ? to_int(*sent_at, now) : now,
                         .segments = to_int(render_or_empty(segments_, m), 1),
                         .attempt = attempt_of(attempt_, m)});
      } else {
        const std::string* received = m.meta().find("received_at");
        events.push_back({.sid = std::move(sid),
                          .status = render_or_empty(status_, m),
                          .error_code = render_or_empty(error_code_, m),
                          .at_ms = received ? to_int(*received, now) : now});
      }
    }
    core::Result<void> r;
    if (record_ != Record::statuses) {
      r = co_await ledger_->record_sends(std::move(sends));
    } else {
      r = co_await ledger_->apply_statuses(std::move(events));
    }
    if (!r) co_return runtime::BatchOutcome::all(runtime::WriteOutcome::retry(r.error().to_string()));
    co_return outcome;
  }

 private:
  static tmpl::Template compiled(std::string_view text) { return tmpl::Template::compile(text).value(); }

  enum class Record { sends, statuses, failures };
  std::shared_ptr<ledger::Store> ledger_;
  Record record_;
  tmpl::Template alert_id_, recipient_, sid_, status_, error_code_, segments_, attempt_;
};

// Claims each recipient before it is sent: granted goes on, already sent is
// dropped (acknowledged), claimed by another instance goes back to its
// source (errored) to come again once that claim is settled or expired.
class LedgerDedupe final : public runtime::Processor {
 public:
  struct Counters {
    metrics::Counter &skipped, &elsewhere, &maybe_sent;
  };
  LedgerDedupe(const config::Values& v, std::shared_ptr<ledger::Store> ledger, const core::Clock& clock,
               Counters counters)
      : ledger_(std::move(ledger)),
        clock_(clock),
        alert_id_(v.tmpl("alert_id")),
        recipient_(v.tmpl("recipient")),
        attempt_(v.tmpl("attempt")),
        lease_(std::chrono::duration_cast<std::chrono::milliseconds>(v.duration("claim_lease"))),
        skipped_(counters.skipped),
        elsewhere_(counters.elsewhere),
        maybe_sent_(counters.maybe_sent) {}

  runtime::Task<void> process(core::Batch& batch, std::vector<runtime::Failure>& /*failures: none*/) override {
    std::vector<ledger::Recipient> keys;
    keys.reserve(batch.size());
    for (const auto& m : batch.messages)
      keys.push_back({render_or_empty(alert_id_, m), render_or_empty(recipient_, m), attempt_of(attempt_, m)});
    auto claims = co_await claim(std::move(keys));
    if (!claims) {
      // The ledger cannot say (or cannot write the claims: a full disk). Not
      // a refusal of these recipients, so not the dead letter: back to the
      // source, to come again.
      logging::error("ledger_dedupe: {} message(s) go back to their source unsent: {}", batch.size(),
                     claims.error().to_string());
      for (auto& m : batch.messages) m.ack().resolve(core::AckStatus::errored);
      batch.messages.clear();
      co_return;
    }
    size_t i = 0;
    batch.retain([&](core::Message& m) {
      const ledger::ClaimAnswer& answer = (*claims)[i++];
      switch (answer.claim) {
        case ledger::Claim::granted: return true;
        case ledger::Claim::maybe_sent:
          // The output looks for this attempt at the provider before sending.
          m.meta().set(std::string(ledger::kMaybeSentMetadata), std::to_string(answer.attempted_ms));
          maybe_sent_.inc();
          return true;
        case ledger::Claim::already_sent:
          m.ack().resolve(core::AckStatus::delivered);  // sent before: done
          skipped_.inc();
          return false;
        case ledger::Claim::claimed_elsewhere:
          m.ack().resolve(core::AckStatus::errored);
          elsewhere_.inc();
          return false;
      }
      return true;
    });
  }

 private:
  // Asks again with backoff for about six seconds while the ledger fails:
  // the sends wait (nothing could be recorded anyway) instead of going
  // round the source's redelivery count.
  runtime::Task<core::Result<std::vector<ledger::ClaimAnswer>>> claim(std::vector<ledger::Recipient> keys) {
    core::Nanos wait = std::chrono::milliseconds(100);
    for (int attempt = 1;; ++attempt) {
      auto claims = co_await ledger_->claim_sends(keys, owner(), lease_);
      if (claims || attempt == 6) co_return claims;
      logging::warn("ledger_dedupe: cannot claim {} recipient(s) ({}); asking again in {} ms", keys.size(),
                    claims.error().to_string(), wait.count() / 1'000'000);
      co_await runtime::sleep_for(clock_, wait);
      wait *= 2;
    }
  }

  // This process, as a claim owner.
  static const std::string& owner() {
    static const std::string id = fmt::format("{}-{:x}", ::getpid(), std::random_device{}());
    return id;
  }

  std::shared_ptr<ledger::Store> ledger_;
  const core::Clock& clock_;
  tmpl::Template alert_id_, recipient_, attempt_;
  std::chrono::milliseconds lease_;
  metrics::Counter& skipped_;
  metrics::Counter& elsewhere_;
  metrics::Counter& maybe_sent_;
};

config::Field alert_id_field() {
  return {.name = "alert_id", .type = config::Type::tmpl, .doc = "The alert a send belongs to.",
          .default_value = "{{alert_id}}"};
}
config::Field recipient_field() {
  return {.name = "recipient", .type = config::Type::tmpl, .doc = "The recipient of a send.",
          .default_value = "{{to}}"};
}
config::Field attempt_field() {
  return {.name = "attempt", .type = config::Type::tmpl,
          .doc = "Which attempt a send is: 1 (also when missing) for the first, 2 for the first resend, ...",
          .default_value = "{{attempt}}"};
}

}  // namespace

void append_send_message(std::string& out, const SendMessage& m) {
  out += "{\"alert_id\":";
  core::append_json_string(out, m.alert_id);
  out += ",\"to\":";
  core::append_json_string(out, m.to);
  out += ",\"body\":";
  core::append_json_string(out, m.body);
  if (!m.from.empty()) {
    out += ",\"from\":";
    core::append_json_string(out, m.from);
  }
  if (m.attempt > 1) out += ",\"attempt\":" + std::to_string(m.attempt);
  if (m.validity_s > 0) out += ",\"validity_period\":" + std::to_string(m.validity_s);
  out += '}';
}

namespace {
// The stores `ledger: {store: ...}` can name.
const std::vector<std::pair<std::string, std::function<std::shared_ptr<ledger::Store>(runtime::BuildContext&)>>>&
stores() {
  static const std::vector<std::pair<std::string, std::function<std::shared_ptr<ledger::Store>(runtime::BuildContext&)>>>
      all = {{"sqlite", [](runtime::BuildContext& ctx) { return ledger::open_sqlite_store(ctx.config().data_dir); }}};
  return all;
}
}  // namespace

config::SectionSpec ledger_section_spec() {
  std::vector<std::string> names;
  for (const auto& [name, open] : stores()) names.push_back(name);
  return {.name = "ledger",
          .doc = "The delivery ledger's store, shared by the ledger output, ledger_dedupe and the alert API.",
          .fields = {{.name = "store",
                      .doc = "sqlite: `<data_dir>/ledger.db`, this instance only.",
                      .default_value = "sqlite",
                      .choices = names}}};
}

std::shared_ptr<ledger::Store> shared_ledger(runtime::BuildContext& ctx) {
  const auto& section = ctx.config().section("ledger");
  const std::string kind = section.has("store") ? section.str("store") : "sqlite";
  return ctx.shared<ledger::Store>("ledger:" + kind + ":" + ctx.config().data_dir, [&] {
    for (const auto& [name, open] : stores()) {
      if (name != kind) continue;
      auto l = open(ctx);
      export_metrics(ctx.metrics(), l);
      return l;
    }
    throw std::runtime_error("unknown ledger store '" + kind + "'");
  });
}

namespace {
std::shared_ptr<ledger::Store> open_for(const config::Values& v, runtime::BuildContext& ctx, const char* field) {
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
                 "Sends come from a `twilio` output's `then:`, failures from its `dead_letter:` (which also takes "
                 "the pipeline's processing failures); callbacks from an http_server's messages "
                 "(their metadata `received_at` is the callback's time).",
      .fields = {{.name = "record",
                  .doc = "What the messages are: sends the provider accepted, status callbacks, or failures "
                         "(as a `dead_letter`: sends refused for good, recorded as failed with their error code).",
                  .required = true,
                  .choices = {"sends", "statuses", "failures"}},
                 alert_id_field(),
                 recipient_field(),
                 attempt_field(),
                 {.name = "sid", .type = Type::tmpl,
                  .doc = "The provider's message id; default {{meta.twilio_sid}} for sends, {{MessageSid}} for "
                         "statuses."},
                 {.name = "status", .type = Type::tmpl,
                  .doc = "The status; default {{meta.twilio_status}} for sends, {{MessageStatus}} for statuses."},
                 {.name = "error_code", .type = Type::tmpl,
                  .doc = "A failure's error code; default {{ErrorCode}} for statuses, {{meta.twilio_error_code}} for "
                         "failures (`unsent` when empty: sluice gave up on the message)."},
                 {.name = "segments", .type = Type::tmpl, .doc = "SMS segments of a send.",
                  .default_value = "{{meta.twilio_segments}}"}},
      .example = "output:\n  twilio: {...}\n  then:\n    ledger: {record: sends}\n    batching: {count: 500, period: 20ms}\n"
                 "  dead_letter:\n    ledger: {record: failures}",
      .make_output = [](const config::Values& v, runtime::BuildContext& ctx) -> std::unique_ptr<runtime::Output> {
        return std::make_unique<LedgerOutput>(v, open_for(v, ctx, "record"));
      },
  };
}

config::ComponentSpec ledger_dedupe_spec() {
  return {
      .name = "ledger_dedupe",
      .kind = config::Kind::processor,
      .summary = "Claims each message's recipient in the ledger before it is sent. A recipient whose send is "
                 "recorded is dropped (acknowledged), so a message delivered again after a crash is not sent "
                 "twice; one that another sluice instance sharing the ledger has claimed goes back to its source "
                 "(nacked) and comes again once that claim is settled or its lease ran out. A recipient claimed "
                 "before a crash whose send was never recorded goes on with metadata ledger_maybe_sent_ms (when "
                 "that attempt began, unix ms): the twilio output then looks for it at the provider and records "
                 "what it finds instead of sending again.",
      .fields = {alert_id_field(), recipient_field(), attempt_field(),
                 {.name = "claim_lease", .type = config::Type::duration,
                  .doc = "How long a claim holds without a recorded send before another instance may take it.",
                  .default_value = "5m", .min = 0.001}},
      .example = "processors:\n  - ledger_dedupe: {}",
      .make_processor = [](const config::Values& v, runtime::BuildContext& ctx) -> std::unique_ptr<runtime::Processor> {
        auto& skipped = ctx.metrics().counter("sluice_ledger_skipped_sends_total",
                                              "Messages not sent because their recipient's send was recorded.",
                                              {{"pipeline", ctx.pipeline()}});
        auto& elsewhere = ctx.metrics().counter("sluice_ledger_claimed_elsewhere_total",
                                                "Messages put back because another instance holds their recipient's claim.",
                                                {{"pipeline", ctx.pipeline()}});
        auto& maybe_sent = ctx.metrics().counter(
            "sluice_ledger_maybe_sent_total",
            "Messages claimed before a crash without a recorded send, passed on to be looked up at the provider.",
            {{"pipeline", ctx.pipeline()}});
        return std::make_unique<LedgerDedupe>(v, open_for(v, ctx, "alert_id"), ctx.clock(),
                                              LedgerDedupe::Counters{skipped, elsewhere, maybe_sent});
      },
  };
}

}  // namespace sluice::connectors
