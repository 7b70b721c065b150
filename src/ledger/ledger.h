#pragma once
// The ledger as the rest of sluice sees it: record alerts, sends and status
// callbacks; ask whether a recipient's send is recorded; read reports.
//
// An interface so a store shared by several sluice instances (Redis) can
// replace the embedded SQLite one (open_sqlite_ledger) without touching
// the components that use it.
//
// Calls block on disk; from coroutines, call them through
// async::run_blocking. Threads: every method is safe from any thread.

#include <boost/json/object.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "ledger/book.h"

namespace sluice::ledger {

struct Percentiles {
  int64_t count = 0;
  int64_t p50_ms = 0, p90_ms = 0, p99_ms = 0;
};

// One alert's aggregates as a report (GET /api/alerts/{id}, `sluice alert status`).
struct AlertReport {
  AlertInfo info;
  std::array<int64_t, kStatusCount> by_status{};
  int64_t messages = 0;
  int64_t recipients_sent = 0;
  int64_t terminal = 0;
  int64_t segments = 0;
  double delivered_percent = 0;  // of messages sent
  double send_rate = 0;          // sends per second between the first and the last send
  std::map<std::string, int64_t> failures_by_code;
  Percentiles to_sent, to_delivered;
  std::vector<std::pair<int64_t, int64_t>> sends_per_second;       // unix second, count
  std::vector<std::pair<int64_t, int64_t>> deliveries_per_second;  // unix second, count
};

AlertReport make_report(const AlertStats& stats);
boost::json::object to_json(const AlertReport& r);

class Ledger {
 public:
  virtual ~Ledger() = default;

  virtual core::Result<void> create_alert(const AlertInfo& info) = 0;
  // Each batch is one transaction: all recorded or none (then retry it;
  // recording is idempotent).
  virtual core::Result<void> record_sends(const std::vector<Send>& sends) = 0;
  virtual core::Result<void> apply_statuses(const std::vector<StatusEvent>& events) = 0;

  virtual bool send_recorded(const std::string& alert_id, const std::string& recipient) const = 0;
  virtual std::optional<AlertReport> report(const std::string& alert_id) const = 0;
  virtual std::vector<AlertReport> reports() const = 0;  // every alert, newest first
  virtual Counters counters() const = 0;
  virtual size_t held() const = 0;
};

// The embedded store: `<data_dir>/ledger.db` (SQLite, WAL, synchronous=FULL).
// Throws std::runtime_error when the database cannot be opened.
std::shared_ptr<Ledger> open_sqlite_ledger(const std::string& data_dir);

}  // namespace sluice::ledger
