#pragma once
// The ledger components and the one ledger per data_dir they share (the
// admin API's alert routes use the same one).

#include <memory>

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
// The `ledger:` section: which store (one config field switches it).
config::SectionSpec ledger_section_spec();
// The store the config names, one per engine.
std::shared_ptr<ledger::Store> shared_ledger(runtime::BuildContext& ctx);

}  // namespace sluice::connectors
