#pragma once
// Message statuses as Twilio reports them, and the one rule for moving
// between them: a message only moves forward, and a terminal status stays.
//
//   accepted / scheduled / queued  <  sending  <  sent  <  delivered | undelivered | failed | canceled
//
// A callback that would move a message backwards (a late `sent` after
// `delivered`), or from one terminal status to another, changes nothing;
// the ledger keeps it in the history only.
//
// `unknown` is sluice's own terminal status, never the provider's: the
// provider does not know the message, or it stayed non-final too long (see
// the ledger_overdue input). It is the one terminal status a later provider
// status still replaces, since that is the truth arriving late.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::ledger {

enum class Status : uint8_t {
  accepted, scheduled, queued, sending, sent, delivered, undelivered, failed, canceled, unknown
};
inline constexpr size_t kStatusCount = 10;
inline constexpr std::array<Status, kStatusCount> kAllStatuses = {
    Status::accepted,  Status::scheduled,   Status::queued, Status::sending,  Status::sent,
    Status::delivered, Status::undelivered, Status::failed, Status::canceled, Status::unknown};

std::string_view to_string(Status s);
std::optional<Status> parse_status(std::string_view text);
// accepted, scheduled, queued: 1; sending: 2; sent: 3; terminal: 4.
int rank(Status s);
bool is_terminal(Status s);
// Whether a message at `current` moves to `next`.
bool moves_forward(Status current, Status next);

}  // namespace sluice::ledger
