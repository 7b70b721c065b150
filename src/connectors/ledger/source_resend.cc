// ledger_resend: failed messages whose alert's resend policy sends them
// again (ledger/resend.h), as send-queue messages {"alert_id", "to",
// "body", "from", "attempt", "validity_period"} for a queue output into the
// alert queue. The send pipeline then treats a resend like any message: it
// claims the recipient's attempt (ledger_dedupe), waits for the rate limit,
// and the twilio output sets ValidityPeriod from what is left of the window.
//
// The ledger hands each due resend out once and takes it back if its send
// is not recorded within `requeue_after` (a queue write lost to a crash);
// a resend ordered twice is claimed once, so it is still sent once.
#include <atomic>

#include "connectors/ledger/ledger.h"
#include "runtime/component.h"
#include "runtime/sleep.h"

namespace sluice::connectors {
namespace {

class LedgerResend final : public runtime::Input {
 public:
  LedgerResend(const config::Values& v, std::shared_ptr<ledger::Store> ledger, const core::Clock& clock)
      : ledger_(std::move(ledger)),
        clock_(clock),
        interval_(v.duration("interval")),
        lease_(std::chrono::duration_cast<std::chrono::milliseconds>(v.duration("requeue_after"))),
        batch_size_(static_cast<size_t>(v.integer("batch_size"))) {}

  runtime::Task<core::Result<core::Batch>> read() override {
    for (;;) {
      if (closed_) co_return core::fail(core::Errc::closed);
      auto due = co_await ledger_->take_resends(core::unix_ms(), lease_, batch_size_);
      if (!due) co_return std::unexpected(due.error());  // logged; read again after a pause
      if (due->empty()) {
        co_await runtime::sleep_for(clock_, std::min<core::Nanos>(interval_, kCloseLatency));
        continue;
      }
      core::Batch batch;
      for (const auto& r : *due) {
        std::string body;
        append_send_message(body, {.alert_id = r.alert_id,
                                   .to = r.recipient,
                                   .body = r.body,
                                   .from = r.from,
                                   .attempt = r.attempt,
                                   .validity_s = r.validity_s});
        batch.messages.emplace_back(std::move(body));
      }
      co_return batch;
    }
  }

  void close() override { closed_ = true; }

 private:
  static constexpr std::chrono::milliseconds kCloseLatency{100};
  std::shared_ptr<ledger::Store> ledger_;
  const core::Clock& clock_;
  core::Nanos interval_;
  std::chrono::milliseconds lease_;
  size_t batch_size_;
  std::atomic<bool> closed_{false};
};

}  // namespace

config::ComponentSpec ledger_resend_input_spec() {
  using config::Type;
  return {
      .name = "ledger_resend",
      .kind = config::Kind::input,
      .summary = "Emits the resends the alerts' resend policies (`alerts.resend`, or an alert's own) make due: a "
                 "message undelivered or failed with a listed error code, `after` its final status, while its "
                 "alert's window lasts. Each is a send-queue message {\"alert_id\", \"to\", \"body\", \"from\", "
                 "\"attempt\", \"validity_period\"} (seconds left of the window, at most Twilio's 36000) for a "
                 "queue output into the alert queue.",
      .fields = {{.name = "interval", .type = Type::duration, .doc = "How often the ledger is asked for due resends.",
                  .default_value = "1s", .min = 0.01},
                 {.name = "requeue_after", .type = Type::duration,
                  .doc = "A resend whose send is not recorded this long after it was emitted is emitted again.",
                  .default_value = "10m", .min = 1},
                 {.name = "batch_size", .type = Type::integer, .doc = "Resends per batch.", .default_value = "100",
                  .min = 1, .max = 10000}},
      .example = "input:\n  ledger_resend: {}\noutput:\n  queue: {name: alert_outbound}",
      .single_reader = true,  // one reader: the ledger hands each resend out once anyway
      .make_input = [](const config::Values& v, runtime::BuildContext& ctx) -> std::unique_ptr<runtime::Input> {
        return std::make_unique<LedgerResend>(v, shared_ledger(ctx), ctx.clock());
      },
  };
}

}  // namespace sluice::connectors
