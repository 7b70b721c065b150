#pragma once
// The metadata ledger_dedupe sets on a message whose recipient was claimed
// before a crash without a recorded send (Claim::maybe_sent): when that
// attempt began, unix ms. An output that can ask its provider what it
// accepted (twilio) looks for the message before sending it again.

#include <string_view>

namespace sluice::ledger {

inline constexpr std::string_view kMaybeSentMetadata = "ledger_maybe_sent_ms";

}  // namespace sluice::ledger
