// Benchmark: the ledger applying status callbacks on its SQLite store, in
// batches of 500 per transaction (how the `ledger` output writes with
// `batching`), beside plain SQLite doing the same rows one callback per
// transaction (update the message, append the event), from the same run.
// Same durability on both sides: WAL, synchronous=FULL.
//
// usage: ledger_bench DIR [messages]
#include <sqlite3.h>

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <random>

#include <boost/asio/io_context.hpp>

#include "ledger/store.h"
#include "testing/run_awaitable.h"

namespace {

using Clock = std::chrono::steady_clock;
using sluice::ledger::Send;
using sluice::ledger::StatusEvent;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string sid(int i) { return fmt::format("SM{:032x}", i); }

// Two callbacks per message (sent, then a final status), in arrival order
// with some shuffling, as provider-sim sends them.
std::vector<StatusEvent> callbacks(int messages) {
  std::vector<StatusEvent> events;
  std::mt19937 rng(7);
  for (int i = 0; i < messages; ++i) {
    events.push_back({sid(i), "sent", "", 1'000'000 + i});
    const int roll = static_cast<int>(rng() % 100);
    events.push_back(roll < 2   ? StatusEvent{sid(i), "failed", "30008", 1'000'500 + i}
                     : roll < 5 ? StatusEvent{sid(i), "undelivered", "30003", 1'000'500 + i}
                                : StatusEvent{sid(i), "delivered", "", 1'000'500 + i});
  }
  for (size_t i = 0; i + 1 < events.size(); i += 7) std::swap(events[i], events[i + 1]);
  return events;
}

double bench_ledger(const std::string& dir, int messages, size_t batch) {
  std::filesystem::remove_all(dir);
  auto ledger = sluice::ledger::open_sqlite_store(dir);
  boost::asio::io_context io;  // the store's calls are awaited, as the ledger output awaits them
  auto run = [&io](auto task) { return sluice::testing::run_awaitable(io, std::move(task)); };
  std::vector<Send> sends;
  for (int i = 0; i < messages; ++i)
    sends.push_back({.alert_id = "al_bench", .recipient = fmt::format("+1555{:07d}", i), .sid = sid(i), .at_ms = 1'000'000});
  for (size_t i = 0; i < sends.size(); i += 1000) {
    std::vector<Send> part(sends.begin() + static_cast<long>(i),
                           sends.begin() + static_cast<long>(std::min(sends.size(), i + 1000)));
    if (!run(ledger->record_sends(std::move(part)))) throw std::runtime_error("record_sends failed");
  }
  const auto events = callbacks(messages);
  const auto start = Clock::now();
  for (size_t i = 0; i < events.size(); i += batch) {
    std::vector<StatusEvent> part(events.begin() + static_cast<long>(i),
                                  events.begin() + static_cast<long>(std::min(events.size(), i + batch)));
    if (!run(ledger->apply_statuses(std::move(part)))) throw std::runtime_error("apply_statuses failed");
  }
  const double secs = seconds_since(start);
  const auto report = run(ledger->report("al_bench"));
  if (!report || !*report || (*report)->terminal != messages) throw std::runtime_error("the ledger lost updates");
  return static_cast<double>(events.size()) / secs;
}

void check(int rc, sqlite3* db) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db));
}

// Plain SQLite: one transaction per callback, no in-memory state (it reads
// the current status to move only forward).
double bench_plain_sqlite(const std::string& dir, int messages) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  sqlite3* db = nullptr;
  check(sqlite3_open((dir + "/plain.db").c_str(), &db), db);
  check(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                         "CREATE TABLE m(sid TEXT PRIMARY KEY, status TEXT, rank INTEGER);"
                         "CREATE TABLE e(id INTEGER PRIMARY KEY, sid TEXT, status TEXT, at_ms INTEGER);",
                     nullptr, nullptr, nullptr),
        db);
  check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db);
  sqlite3_stmt *ins = nullptr, *upd = nullptr, *ev = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO m VALUES (?1, 'queued', 1)", -1, &ins, nullptr);
  for (int i = 0; i < messages; ++i) {
    const std::string s = sid(i);
    sqlite3_bind_text(ins, 1, s.c_str(), -1, SQLITE_TRANSIENT);
    check(sqlite3_step(ins), db);
    sqlite3_reset(ins);
  }
  check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db);
  sqlite3_prepare_v2(db, "UPDATE m SET status = ?2, rank = ?3 WHERE sid = ?1 AND rank < ?3", -1, &upd, nullptr);
  sqlite3_prepare_v2(db, "INSERT INTO e(sid, status, at_ms) VALUES (?1, ?2, ?3)", -1, &ev, nullptr);
  const auto events = callbacks(messages);
  const auto start = Clock::now();
  for (const auto& e : events) {
    check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db);
    sqlite3_bind_text(upd, 1, e.sid.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(upd, 2, e.status.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(upd, 3, e.status == "sent" ? 3 : 4);
    check(sqlite3_step(upd), db);
    sqlite3_reset(upd);
    sqlite3_bind_text(ev, 1, e.sid.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ev, 2, e.status.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(ev, 3, e.at_ms);
    check(sqlite3_step(ev), db);
    sqlite3_reset(ev);
    check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db);
  }
  const double secs = seconds_since(start);
  sqlite3_finalize(ins);
  sqlite3_finalize(upd);
  sqlite3_finalize(ev);
  sqlite3_close(db);
  return static_cast<double>(events.size()) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: ledger_bench DIR [messages]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const int messages = argc > 2 ? std::stoi(argv[2]) : 100'000;
  const double batched = bench_ledger(dir + "/batched", messages, 500);
  const double single = bench_ledger(dir + "/single", std::min(messages, 2000), 1);
  const double plain = bench_plain_sqlite(dir + "/plain", std::min(messages, 2000));
  fmt::print("ledger: status callbacks applied, WAL + synchronous=FULL, {} messages x 2 callbacks\n", messages);
  fmt::print("  sluice ledger, 500 per transaction     {:10.0f} updates/s\n", batched);
  fmt::print("  sluice ledger, 1 per transaction       {:10.0f} updates/s\n", single);
  fmt::print("  plain SQLite, 1 per transaction        {:10.0f} updates/s   ratio {:.1f}\n", plain, batched / plain);
  std::filesystem::remove_all(dir);
}
