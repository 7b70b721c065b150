#pragma once
// provider-sim's record of the messages it accepted, as Twilio's Messages
// resource shows them: one message by sid, and the list with Twilio's
// filters (To, From, DateSent, DateSent<, DateSent>), newest first. It also
// counts duplicate texts (a second message with the same To and Body), the
// figure a crash test holds sluice to.
//
// With a journal (`--state FILE`) every message and status change is
// appended to FILE as a JSON line as it happens, and replayed on start: a
// simulator killed with `kill -9` comes back with its records (the page
// cache keeps what a killed process wrote; no fsync, this is a simulator).
//
// Threads: not thread-safe; the simulator holds its lock around every call.

#include <cstdint>
#include <deque>
#include <map>
#include <expected>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/form.h"

namespace sluice::provider_sim {

struct SimMessage {
  std::string sid, to, from, body, status = "queued", error_code;
  std::string callback;  // StatusCallback URL, empty for none
  int64_t created_ms = 0;
  int64_t sent_ms = 0;  // 0: not sent yet (date_sent null)
  int64_t segments = 1;
  int64_t attempt = 1;  // 2 for the second message with this To and Body, ...
};

bool is_final(const std::string& status);

class MessageBook {
 public:
  MessageBook() = default;
  ~MessageBook();
  MessageBook(const MessageBook&) = delete;
  MessageBook& operator=(const MessageBook&) = delete;

  // Replays `path` (a line it cannot read, such as one cut short by a kill,
  // is skipped and counted) and appends to it from then on. Throws
  // std::runtime_error when it cannot be opened.
  struct Replayed {
    size_t messages = 0, unreadable_lines = 0;
  };
  Replayed open_journal(const std::string& path);

  // Keeps `m`; returns true when its To already had a message with this Body.
  bool add(SimMessage m);
  void mark_sent(const std::string& sid, int64_t sent_ms);
  void finish(const std::string& sid, const std::string& status, const std::string& error_code);
  const SimMessage* find(const std::string& sid) const;
  // Every message not at a final status, oldest first (to resume on start).
  std::vector<SimMessage> unfinished() const;
  // Messages by status, and duplicate texts: what /sim/stats counts.
  std::map<std::string, int64_t> counts() const;
  // GET .../Messages.json with `query`'s filters and PageSize (default:
  // every match on one page), as Twilio's list JSON; an error text for a
  // filter it cannot read (Twilio answers those 400).
  std::expected<std::string, std::string> list_json(const net::Form& query, const std::string& account_sid) const;
  // GET .../Messages/{sid}.json.
  std::optional<std::string> resource_json(const std::string& sid, const std::string& account_sid) const;

 private:
  bool keep(SimMessage m);  // add() without the journal
  void journal(const std::string& line);

  std::unordered_map<std::string, SimMessage> by_sid_;
  std::deque<std::string> order_;  // sids, oldest first
  std::unordered_map<std::string, int64_t> texts_;  // To + '\n' + Body -> messages with it
  int64_t duplicate_texts_ = 0;
  int journal_fd_ = -1;
};

// "Tue, 01 Dec 2026 19:20:36 +0000", as Twilio writes its dates.
std::string rfc2822(int64_t unix_ms);

}  // namespace sluice::provider_sim
