// ledger_overdue: the ledger's messages whose final status is overdue (sent
// longer than final_status_timeout ago, still not delivered, undelivered,
// failed or canceled), for a twilio_lookup output to ask the provider about.
// So an alert finishes even when callbacks never come (the provider gave up
// while sluice was down, the callback URL was wrong, the provider was lost).
//
// It walks them oldest first, a batch per read; a finished walk starts again
// final_status_timeout later, so a message still open is asked about about
// once per timeout. Nothing to acknowledge: an answer the ledger did not
// record is asked for again on the next walk, and a restart begins a walk.
#include <atomic>

#include "connectors/ledger/ledger.h"
#include "core/json_text.h"
#include "runtime/component.h"
#include "runtime/sleep.h"

namespace sluice::connectors {
namespace {

class LedgerOverdue final : public runtime::Input {
 public:
  LedgerOverdue(const config::Values& v, std::shared_ptr<ledger::Store> ledger, const core::Clock& clock)
      : ledger_(std::move(ledger)),
        clock_(clock),
        timeout_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(v.duration("final_status_timeout")).count()),
        give_up_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(v.duration("give_up_after")).count()),
        batch_size_(static_cast<size_t>(v.integer("batch_size"))) {}

  runtime::Task<core::Result<core::Batch>> read() override {
    for (;;) {
      if (closed_) co_return core::fail(core::Errc::closed);
      const int64_t now = core::unix_ms();
      if (cursor_.send_ms < 0 && now < next_walk_ms_) {  // between walks: wait, closable
        co_await runtime::sleep_for(clock_, std::min<core::Nanos>(std::chrono::milliseconds(next_walk_ms_ - now),
                                                                  kCloseLatency));
        continue;
      }
      auto found = co_await ledger_->overdue(now - timeout_ms_, cursor_, batch_size_);
      if (!found) co_return std::unexpected(found.error());  // logged; read again after a pause
      if (found->empty()) {
        cursor_ = {};
        next_walk_ms_ = now + timeout_ms_;
        continue;
      }
      cursor_ = {.send_ms = found->back().send_ms, .sid = found->back().sid};
      core::Batch batch;
      for (const auto& m : *found) {
        std::string body = "{\"sid\":";
        core::append_json_string(body, m.sid);
        body += ",\"alert_id\":";
        core::append_json_string(body, m.alert_id);
        body += ",\"to\":";
        core::append_json_string(body, m.recipient);
        body += ",\"status\":";
        core::append_json_string(body, ledger::to_string(m.status));
        body += ",\"send_ms\":" + std::to_string(m.send_ms);
        body += now - m.send_ms >= give_up_ms_ ? ",\"give_up\":true}" : ",\"give_up\":false}";
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
  int64_t timeout_ms_, give_up_ms_;
  size_t batch_size_;
  // One reader walks (the pipeline's default concurrency, 1).
  ledger::OverdueCursor cursor_;
  int64_t next_walk_ms_ = 0;
  std::atomic<bool> closed_{false};
};

}  // namespace

config::ComponentSpec ledger_overdue_input_spec() {
  using config::Type;
  return {
      .name = "ledger_overdue",
      .kind = config::Kind::input,
      .summary = "Emits the ledger's messages whose final status is overdue, oldest first, as "
                 "{\"sid\", \"alert_id\", \"to\", \"status\", \"send_ms\", \"give_up\"}, for a `twilio_lookup` output "
                 "to ask the provider about; a message still open is asked about once per final_status_timeout, and "
                 "`give_up` is true once it was sent give_up_after ago (twilio_lookup then records it as unknown). "
                 "So every alert finishes, with honest numbers, even when callbacks never come.",
      .fields = {{.name = "final_status_timeout", .type = Type::duration,
                  .doc = "How long after its send a message may wait for its final status before it is looked up.",
                  .default_value = "10m", .min = 1},
                 {.name = "give_up_after", .type = Type::duration,
                  .doc = "How long after its send a message still not final becomes unknown.",
                  .default_value = "6h", .min = 1},
                 {.name = "batch_size", .type = Type::integer, .doc = "Messages per batch.", .default_value = "100",
                  .min = 1, .max = 10000}},
      .example = "input:\n  ledger_overdue: {final_status_timeout: 10m, give_up_after: 6h}",
      .single_reader = true,  // one cursor walks the ledger: a second reader would send the same lookups
      .make_input = [](const config::Values& v, runtime::BuildContext& ctx) -> std::unique_ptr<runtime::Input> {
        return std::make_unique<LedgerOverdue>(v, shared_ledger(ctx), ctx.clock());
      },
  };
}

}  // namespace sluice::connectors
