#pragma once
// An alert's own resend policy, from POST /api/alerts:
//   "resend": {"codes": ["30003", "30008"], "after": "5m", "max_attempts": 2, "window": "6h"}
// Durations as in the config ("90s", "5m") or a number of seconds, each at
// most 7 days; max_attempts 1 to 10. null: no resend for this alert, even
// when the config gives every alert one. Errors name the field.

#include <boost/json/fwd.hpp>

#include <expected>
#include <string>

#include "ledger/resend.h"

namespace sluice::alerts {

std::expected<ledger::ResendPolicy, std::string> resend_from_json(const boost::json::value& v);

}  // namespace sluice::alerts
