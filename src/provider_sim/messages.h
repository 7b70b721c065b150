#pragma once
// provider-sim's record of the messages it accepted, as Twilio's Messages
// resource shows them: one message by sid, and the list with Twilio's
// filters (To, From, DateSent, DateSent<, DateSent>), newest first. It also
// counts duplicate texts (a second message with the same To and Body), the
// figure a crash test holds sluice to.
//
// Threads: not thread-safe; the simulator holds its lock around every call.

#include <cstdint>
#include <deque>
#include <expected>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "net/form.h"

namespace sluice::provider_sim {

struct SimMessage {
  std::string sid, to, from, body, status = "queued", error_code;
  int64_t created_ms = 0;
  int64_t sent_ms = 0;  // 0: not sent yet (date_sent null)
  int64_t segments = 1;
};

class MessageBook {
 public:
  // Keeps `m`; returns true when its To already had a message with this Body.
  bool add(SimMessage m);
  SimMessage* find(const std::string& sid);
  // GET .../Messages.json with `query`'s filters and PageSize (default:
  // every match on one page), as Twilio's list JSON; an error text for a
  // filter it cannot read (Twilio answers those 400).
  std::expected<std::string, std::string> list_json(const net::Form& query, const std::string& account_sid) const;
  // GET .../Messages/{sid}.json.
  std::optional<std::string> resource_json(const std::string& sid, const std::string& account_sid) const;

 private:
  std::unordered_map<std::string, SimMessage> by_sid_;
  std::deque<std::string> order_;  // sids, oldest first
  std::unordered_set<std::string> texts_;  // To + '\n' + Body
};

// "Tue, 01 Dec 2026 19:20:36 +0000", as Twilio writes its dates.
std::string rfc2822(int64_t unix_ms);

}  // namespace sluice::provider_sim
