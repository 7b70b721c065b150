#pragma once
// The ledger components and the one ledger per data_dir they share (the
// admin API's alert routes use the same one).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config/spec.h"
#include "ledger/store.h"

namespace sluice::runtime {
class BuildContext;
}

namespace sluice::connectors {

config::ComponentSpec ledger_output_spec();
config::ComponentSpec ledger_dedupe_spec();
// `ledger_overdue` input: messages whose final status is overdue.
config::ComponentSpec ledger_overdue_input_spec();
// `ledger_resend` input: failed messages whose alert's policy sends them again.
config::ComponentSpec ledger_resend_input_spec();

// One message of an alert's send queue, as POST /api/alerts and
// ledger_resend write it: {"alert_id", "to", "body", "from"?, "attempt"?,
// "validity_period"?} (the last two for a resend only).
struct SendMessage {
  std::string_view alert_id, to, body, from;
  int64_t attempt = 1;
  int64_t validity_s = 0;  // 0: none
};
void append_send_message(std::string& out, const SendMessage& m);
// The `ledger:` section: which store (one config field switches it).
config::SectionSpec ledger_section_spec();
// The store the config names, one per engine.
std::shared_ptr<ledger::Store> shared_ledger(runtime::BuildContext& ctx);

}  // namespace sluice::connectors
