#pragma once
// The ledger components and the one ledger per data_dir they share (the
// admin API's alert routes use the same one).

#include <memory>

#include "config/spec.h"
#include "ledger/ledger.h"

namespace sluice::runtime {
class BuildContext;
}

namespace sluice::connectors {

config::ComponentSpec ledger_output_spec();
config::ComponentSpec ledger_dedupe_spec();
std::shared_ptr<ledger::Ledger> shared_ledger(runtime::BuildContext& ctx);

}  // namespace sluice::connectors
