#include "ledger/status.h"

namespace sluice::ledger {

namespace {
constexpr std::array<std::string_view, kStatusCount> kNames = {
    "accepted", "scheduled", "queued", "sending", "sent", "delivered", "undelivered", "failed", "canceled", "unknown"};
}

std::string_view to_string(Status s) { return kNames[static_cast<size_t>(s)]; }

std::optional<Status> parse_status(std::string_view text) {
  for (size_t i = 0; i < kStatusCount; ++i)
    if (kNames[i] == text) return static_cast<Status>(i);
  return std::nullopt;
}

int rank(Status s) {
  switch (s) {
    case Status::accepted:
    case Status::scheduled:
    case Status::queued: return 1;
    case Status::sending: return 2;
    case Status::sent: return 3;
    case Status::delivered:
    case Status::undelivered:
    case Status::failed:
    case Status::canceled:
    case Status::unknown: return 4;
  }
  return 0;
}

bool is_terminal(Status s) { return rank(s) == 4; }

bool moves_forward(Status current, Status next) {
  if (current == Status::unknown) return is_terminal(next) && next != Status::unknown;
  return !is_terminal(current) && rank(next) > rank(current);
}

}  // namespace sluice::ledger
