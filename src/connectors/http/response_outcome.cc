#include "connectors/http/response_outcome.h"

#include <charconv>

namespace sluice::connectors {

core::Nanos retry_after(const net::ClientResponse& r) {
  const std::string* h = r.header("retry-after");
  int64_t seconds = 0;
  if (!h || std::from_chars(h->data(), h->data() + h->size(), seconds).ec != std::errc() || seconds < 0)
    return core::Nanos(0);
  return std::chrono::seconds(std::min<int64_t>(seconds, 3600));
}

runtime::WriteOutcome outcome_for_status(const net::ClientResponse& r, std::string reason) {
  if (r.status == 429 || r.status == 503) return runtime::WriteOutcome::overload(std::move(reason), retry_after(r));
  if (r.status >= 500) return runtime::WriteOutcome::retry(std::move(reason), retry_after(r));
  return runtime::WriteOutcome::reject(std::move(reason));
}

runtime::WriteOutcome outcome_for_error(const core::Error& e) {
  // Never answered: the peer did not process it as far as we can know, and
  // at-least-once means trying again. A timeout is a sign of overload.
  if (e.code == core::Errc::timeout) return runtime::WriteOutcome::overload(e.to_string());
  return runtime::WriteOutcome::retry(e.to_string());
}

}  // namespace sluice::connectors
