#pragma once
// The ledger's truth in memory: every alert, every provider message (by its
// sid) with its current status, callbacks held until their send is known,
// and per-alert aggregates kept exact at every step.
//
// Sends come from the send pipeline (alert, recipient, sid, time, segments);
// status callbacks (sid, status, error code, time) from the webhook. A
// callback moves its message only forward (see status.h): a duplicate or
// one that arrives out of order counts nothing twice and never moves a
// message back. A callback whose send is not recorded yet (it can beat the
// provider's 201) is held and applied, in arrival order, when the send is
// recorded.
//
// Attempts: an alert with a resend policy (resend.h) may send a recipient
// more than once. Each attempt is its own message (its own sid); the latest
// is the recipient's outcome, and the one it replaces is `superseded`: it
// leaves the alert's current counts (by status, failures) but keeps its
// history and its cost (segments, send rate). A message that failed with a
// code the policy lists waits in the resend queue until it is due.
//
// No I/O: the SQLite store persists what the book decides and rebuilds a
// book on start (restore()). Threads: not thread-safe; the owner locks.

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "ledger/histogram.h"
#include "ledger/resend.h"
#include "ledger/status.h"

namespace sluice::ledger {

struct AlertInfo {
  std::string id;
  int64_t created_ms = 0;
  int64_t recipients = 0;  // 0: not known (sends recorded without an alert)
  std::string body;
  std::string from;
  ResendPolicy resend;
};

struct Send {
  std::string alert_id;
  std::string recipient;
  std::string sid;
  Status status = Status::queued;  // as the provider's 201 said
  int64_t at_ms = 0;
  int64_t segments = 1;
  std::string error_code;  // of a refused send
  int64_t attempt = 1;     // 2 for the first resend, ...
};

// A send the provider refused for good (bad credentials, an invalid number)
// or that sluice gave up on: recorded as `failed` with its error code under
// this stand-in sid, so the recipient has an outcome, is not sent again, and
// the alert completes. Provider sids (SM + 32 hex) never start with "refused:".
Send refused_send(std::string alert_id, std::string recipient, std::string error_code, int64_t at_ms,
                  int64_t attempt = 1);
bool is_refused(const std::string& sid);

struct StatusEvent {
  std::string sid;
  std::string status;  // as received; unknown ones are kept in the history only
  std::string error_code;
  int64_t at_ms = 0;
};

// What a callback did.
enum class Effect : uint8_t {
  moved,           // the message moved forward
  duplicate,       // the message is already at this status
  stale,           // out of order or after a terminal status: history only
  held,            // no send recorded for the sid yet
  unknown_status,  // not a status we know: history only
};

// What recording a send did. sid_conflict: the provider gave a sid that
// already belongs to another recipient or alert (a provider that reissues
// sids after a restart). The send is kept apart, under conflict_key(send),
// so neither alert is corrupted; callbacks for that sid still count for the
// first holder.
enum class SendEffect : uint8_t { recorded, duplicate, sid_conflict };

struct Message {
  std::string alert_id;
  std::string recipient;
  std::string sid;
  Status status = Status::queued;
  int64_t send_ms = 0;
  int64_t sent_ms = -1;   // first known to be at least `sent`
  int64_t final_ms = -1;  // reached a terminal status
  std::string error_code;
  int64_t segments = 1;
  int64_t attempt = 1;
  bool superseded = false;  // a later attempt to the recipient is recorded
};

// A resend that is due: what the ledger_resend input puts on the send queue.
struct ResendOrder {
  std::string alert_id, recipient, body, from;
  int64_t attempt = 2;
  int64_t validity_s = 0;  // Twilio's ValidityPeriod: what is left of the window
};

// What the ledger has counted since it opened; every store reports these in
// StoreStats, so metrics read the same from any store.
struct Counters {
  uint64_t sends_recorded = 0;
  uint64_t sends_duplicate = 0;
  uint64_t sid_conflicts = 0;
  uint64_t statuses_applied = 0;
  uint64_t duplicates_ignored = 0;
  uint64_t stale_ignored = 0;
  uint64_t unknown_ignored = 0;
  uint64_t early_held = 0;
  uint64_t early_reconciled = 0;
  uint64_t resends_ordered = 0;
  uint64_t late_callbacks = 0;
};

struct AlertStats {
  AlertInfo info;
  std::array<int64_t, kStatusCount> by_status{};  // messages currently at each status
  int64_t messages = 0;                           // recipients' current messages, refused ones included
  int64_t refused = 0;                            // of which the provider never accepted
  int64_t recipients_sent = 0;                    // distinct recipients with a recorded send
  int64_t segments = 0;
  int64_t first_send_ms = 0, last_send_ms = 0;  // 0: no send yet
  std::map<std::string, int64_t> failures_by_code;  // failed / undelivered, by ErrorCode
  Histogram to_sent_ms;                             // per message, from send to first known sent
  Histogram to_delivered_ms;                        // per delivered message, from send
  std::map<int64_t, int64_t> sends_per_second;      // unix second -> sends recorded
  std::map<int64_t, int64_t> deliveries_per_second;  // unix second -> messages delivered
  int64_t last_activity_ms = 0;                      // the latest send or status move (0: none yet)
  int64_t resent = 0;                  // sends that were resends (attempt > 1)
  int64_t delivered_after_resend = 0;  // of the delivered, those on a resend
  int64_t resends_waiting = 0;         // failed messages in the resend queue
  int64_t late_callbacks = 0;          // callbacks timed after the alert's window
  bool reconciling = false;            // overdue messages of it are being looked up (this process)
  int64_t terminal() const;
};

// Where a walk over overdue messages (Book::overdue) continues.
struct OverdueCursor {
  int64_t send_ms = -1;
  std::string sid;
};

// One page of an alert's messages (the drill-down), with how many match.
struct RecipientPage {
  std::vector<Message> messages;
  size_t total = 0;
  bool alert_found = true;
};

class Book {
 public:
  // Callbacks held for unknown sids, at most; the oldest go first.
  static constexpr size_t kMaxHeld = 1'000'000;

  // Movable, not copyable: by_alert_ points into messages_' nodes, which a
  // move keeps and a copy would not.
  Book() = default;
  Book(Book&&) = default;
  Book& operator=(Book&&) = default;
  Book(const Book&) = delete;
  Book& operator=(const Book&) = delete;

  void add_alert(AlertInfo info);
  // Forgets an alert with no recorded sends (its creation failed).
  void remove_alert(const std::string& id);
  SendEffect record_send(const Send& send);
  // Where a send whose sid was taken is kept.
  static std::string conflict_key(const Send& send);
  Effect apply(const StatusEvent& event);
  // Rebuilds state from persisted rows (no counters move).
  void restore(const Message& m);
  void restore_held(const StatusEvent& event);

  // Whether the recipient's send at `attempt` (or a later one) is recorded.
  bool send_recorded(const std::string& alert_id, const std::string& recipient, int64_t attempt = 1) const;
  // Resends due at `now_ms`, at most `limit`, oldest first. Each is put
  // back in the queue for `lease_ms` (it comes again if its send is not
  // recorded by then: a lost queue write, a crash); a message whose window
  // has passed leaves the queue, final.
  std::vector<ResendOrder> take_resends(int64_t now_ms, int64_t lease_ms, size_t limit);
  void add_late_callbacks(const std::string& alert_id, int64_t n);
  // The alerts of `overdue` messages are being reconciled (looked up at the provider).
  void note_reconciling(const std::vector<Message>& overdue);
  // Messages with no final status sent before `sent_before_ms`, in (send_ms,
  // sid) order after `after`, at most `limit`.
  std::vector<Message> overdue(int64_t sent_before_ms, const OverdueCursor& after, size_t limit) const;
  // An alert's current messages (one per recipient: its latest attempt) at
  // one of `statuses` (all when empty), in send order, skipping `offset`, at
  // most `limit`; alert_found false when the alert is not known.
  RecipientPage recipients(const std::string& alert_id, const std::vector<Status>& statuses, size_t offset,
                           size_t limit) const;
  const Message* message(const std::string& sid) const;
  const AlertStats* alert(const std::string& id) const;
  std::vector<const AlertStats*> alerts() const;  // newest first
  const Counters& counters() const { return counters_; }
  void set_counters(const Counters& c) { counters_ = c; }
  size_t held() const { return held_count_; }

 private:
  AlertStats& stats_for(const std::string& alert_id, int64_t at_ms);
  void record_new(const Send& send);
  Effect move(Message& m, AlertStats& a, Status next, const StatusEvent& event);
  void count_into(const Message& m, AlertStats& a);  // the aggregates of a message at its status
  void index(Message& m);
  void add_current(const Message& m, AlertStats& a, int64_t n);
  void consider_resend(const Message& m, AlertStats& a);
  void drop_resend(const Message& m, AlertStats& a);

  std::unordered_map<std::string, AlertStats> alerts_;
  std::vector<std::string> alert_order_;
  std::unordered_map<std::string, Message> messages_;  // by sid
  // Each alert's messages, so a drill-down reads one alert, not all.
  std::unordered_map<std::string, std::vector<const Message*>> by_alert_;
  std::unordered_map<std::string, Message*> latest_;  // alert_id + '\n' + recipient -> its latest attempt
  std::set<std::pair<int64_t, std::string>> resend_queue_;  // (due ms, sid)
  std::unordered_map<std::string, int64_t> resend_due_;     // sid -> its due ms in resend_queue_
  std::unordered_map<std::string, std::vector<StatusEvent>> held_;
  std::deque<std::string> held_order_;
  size_t held_count_ = 0;
  Counters counters_;
};

}  // namespace sluice::ledger
