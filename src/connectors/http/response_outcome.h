#pragma once
// How an HTTP answer maps to a write outcome, shared by every output that
// calls an HTTP API: 429 and 5xx retry (after Retry-After when given), a
// transport error (timeout, reset) retries, other 4xx fail for good.

#include <string>

#include "core/error.h"
#include "net/http_client.h"
#include "runtime/write_outcome.h"

namespace sluice::connectors {

// The Retry-After delay (delta-seconds; capped at an hour), 0 if absent.
core::Nanos retry_after(const net::ClientResponse& r);
// Retry for 429 and 5xx, reject for other non-success statuses.
runtime::WriteOutcome outcome_for_status(const net::ClientResponse& r, std::string reason);
runtime::WriteOutcome outcome_for_error(const core::Error& e);

}  // namespace sluice::connectors
