#pragma once
// The ledger as the rest of sluice sees it: a store of alerts, sends and
// status callbacks with exact per-alert reports. The embedded SQLite store
// (`ledger: {store: sqlite}`, the default) is one; a store shared by several
// sluice instances (Redis, PostgreSQL) implements the same interface and runs
// the same test suite (store_test.cc), and the components do not change.
//
// Every call is asynchronous, batched and returns a Result: nothing blocks
// the caller's thread (the SQLite store works on the blocking pool), and a
// failed batch changed nothing (retry it; every call is idempotent).
// Reports are computed off the I/O threads.
//
// Claims: before sending to a recipient, the sender claims it. A claim is
// granted when no send to that recipient is recorded and nobody else holds
// an unexpired claim; recording the send settles it. So two instances never
// both send to one recipient, and a recipient whose sender died is claimed
// again once its lease ran out. Claims are durable: one still unsettled
// when its sender died (a crash between the provider accepting a message
// and the ledger recording it) is granted as `maybe_sent`, with the time of
// that attempt, so the sender asks the provider before sending again.
//
// Threads: every method is safe from any thread and coroutine.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "ledger/book.h"
#include "ledger/maybe_sent.h"
#include "ledger/report.h"

namespace sluice::ledger {

template <class T>
using Task = boost::asio::awaitable<T>;

struct Recipient {
  std::string alert_id;
  std::string recipient;
  int64_t attempt = 1;  // a resend claims its own attempt
};

enum class Claim : uint8_t {
  granted,          // send it
  maybe_sent,       // granted, but an earlier attempt may have reached the provider: look it up first
  already_sent,     // a send is recorded: do not send again
  claimed_elsewhere,  // another sender holds an unexpired claim: try later
};

struct ClaimAnswer {
  Claim claim;
  int64_t attempted_ms = 0;  // maybe_sent: when the earlier attempt was claimed (unix ms)
  bool operator==(const ClaimAnswer&) const = default;
};

// What the store has done since it opened (metrics), and what it holds.
struct StoreStats {
  Counters counted;
  uint64_t held = 0;  // callbacks waiting for their send
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Task<core::Result<void>> create_alert(AlertInfo info) = 0;
  // Forgets an alert whose messages never reached the queue (creating it
  // failed after the ledger had it): creation is all or nothing.
  virtual Task<core::Result<void>> remove_alert(std::string alert_id) = 0;
  // One answer per recipient, in order. `owner` names the claiming sender
  // (one per process); its own unexpired claims are granted again.
  virtual Task<core::Result<std::vector<ClaimAnswer>>> claim_sends(std::vector<Recipient> recipients, std::string owner,
                                                              std::chrono::milliseconds lease) = 0;
  // Each batch is one transaction: all recorded or none.
  virtual Task<core::Result<void>> record_sends(std::vector<Send> sends) = 0;
  virtual Task<core::Result<void>> apply_statuses(std::vector<StatusEvent> events) = 0;

  // Messages still without a final status that were sent before
  // `sent_before_ms`, oldest first, continuing after `after`: what the
  // ledger_overdue input asks the provider about. Their alerts' reports
  // say `reconciling` from then on.
  virtual Task<core::Result<std::vector<Message>>> overdue(int64_t sent_before_ms, OverdueCursor after,
                                                           size_t limit) = 0;

  // Resends due at `now_ms` (see Book::take_resends): what the
  // ledger_resend input puts on the send queue. A resend not recorded
  // within `lease` is due again.
  virtual Task<core::Result<std::vector<ResendOrder>>> take_resends(int64_t now_ms, std::chrono::milliseconds lease,
                                                                    size_t limit) = 0;

  // The drill-down: an alert's messages at one of `statuses` (all when
  // empty), in send order, a page at a time.
  virtual Task<core::Result<RecipientPage>> recipients(std::string alert_id, std::vector<Status> statuses,
                                                       size_t offset, size_t limit) = 0;

  virtual Task<core::Result<std::optional<AlertReport>>> report(std::string alert_id) = 0;
  virtual Task<core::Result<std::vector<AlertReport>>> reports() = 0;  // every alert, newest first
  // Cheap and non-blocking, for metrics.
  virtual StoreStats stats() const = 0;
};

// The embedded store: `<data_dir>/ledger.db` (SQLite, WAL, synchronous=FULL).
// Throws std::runtime_error when the database cannot be opened.
std::shared_ptr<Store> open_sqlite_store(const std::string& data_dir);

}  // namespace sluice::ledger
