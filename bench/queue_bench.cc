// Benchmark (b): the embedded queue's durable enqueue + dequeue + ack, beside
// plain SQLite doing the same work with the same durability (WAL,
// synchronous=FULL), from the same run. Redis is measured by bench/run-all.
//
// usage: queue_bench DIR [messages] [payload_bytes]
#include <sqlite3.h>

#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "async/spawn.h"
#include "connectors/queue/store.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace asio = boost::asio;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// sluice: 8 producers enqueue batches of 100 while 4 consumers lease batches
// of 100 and ack them; the clock stops when every message is acked.
double bench_sluice(const std::string& dir, int total, const std::string& payload) {
  std::filesystem::remove_all(dir);
  sluice::connectors::queue::Store store(dir);
  asio::io_context io(2);
  std::atomic<int> acked{0};
  const int producers = 8, batch = 100;
  const auto start = Clock::now();
  for (int p = 0; p < producers; ++p) {
    auto produce = [&, p]() -> asio::awaitable<void> {
      for (int sent = p * batch; sent < total; sent += producers * batch) {
        sluice::core::Batch b;
        for (int i = 0; i < batch && sent + i < total; ++i) b.messages.emplace_back(payload);
        auto r = co_await store.enqueue("bench", b);
        if (!r) throw std::runtime_error(r.error().to_string());
      }
    };
    sluice::async::spawn(io, produce);
  }
  for (int c = 0; c < 4; ++c) {
    auto consume = [&]() -> asio::awaitable<void> {
      while (acked.load() < total) {
        auto b = co_await store.dequeue("bench", {.max = 100});
        if (b.empty()) co_return;
        const int n = static_cast<int>(b.size());
        b.resolve_all(sluice::core::AckStatus::delivered);
        if (acked.fetch_add(n) + n >= total) store.close_readers("bench");
      }
    };
    sluice::async::spawn(io, consume);
  }
  std::thread helper([&] { io.run(); });
  io.run();
  helper.join();
  // Acks are committed by the store's thread; wait until they are durable.
  while (store.depth("bench") > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return total / seconds_since(start);
}

sqlite3* open_db(const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  sqlite3* db = nullptr;
  sqlite3_open((dir + "/plain.db").c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", nullptr, nullptr, nullptr);
  sqlite3_exec(db, "CREATE TABLE q(id INTEGER PRIMARY KEY, payload BLOB)", nullptr, nullptr, nullptr);
  return db;
}

// Plain SQLite: insert a batch in one transaction, then select it and delete
// it row by row in another: the same durable steps, no engine around them.
double bench_sqlite(const std::string& dir, int total, const std::string& payload, int batch) {
  sqlite3* db = open_db(dir);
  sqlite3_stmt *ins, *sel, *del;
  sqlite3_prepare_v2(db, "INSERT INTO q(payload) VALUES (?1)", -1, &ins, nullptr);
  sqlite3_prepare_v2(db, "SELECT id, payload FROM q ORDER BY id LIMIT ?1", -1, &sel, nullptr);
  sqlite3_prepare_v2(db, "DELETE FROM q WHERE id = ?1", -1, &del, nullptr);
  const auto start = Clock::now();
  std::vector<int64_t> ids;
  for (int done = 0; done < total; done += batch) {
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (int i = 0; i < batch; ++i) {
      sqlite3_bind_blob(ins, 1, payload.data(), static_cast<int>(payload.size()), SQLITE_STATIC);
      sqlite3_step(ins);
      sqlite3_reset(ins);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    ids.clear();
    sqlite3_bind_int(sel, 1, batch);
    while (sqlite3_step(sel) == SQLITE_ROW) ids.push_back(sqlite3_column_int64(sel, 0));
    sqlite3_reset(sel);
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (int64_t id : ids) {
      sqlite3_bind_int64(del, 1, id);
      sqlite3_step(del);
      sqlite3_reset(del);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  const double rate = total / seconds_since(start);
  sqlite3_finalize(ins);
  sqlite3_finalize(sel);
  sqlite3_finalize(del);
  sqlite3_close(db);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/tmp/sluice-queue-bench";
  const int total = argc > 2 ? std::atoi(argv[2]) : 200'000;
  const std::string payload(argc > 3 ? std::atoi(argv[3]) : 100, 'x');
  const double ours = bench_sluice(dir + "/sluice", total, payload);
  const double plain_batched = bench_sqlite(dir + "/plain100", total, payload, 100);
  const double plain_single = bench_sqlite(dir + "/plain1", std::min(total, 2000), payload, 1);
  fmt::print("queue: {} messages of {} bytes, durable enqueue + dequeue + ack\n", total, payload.size());
  fmt::print("  sluice embedded queue          {:>10.0f} msg/s\n", ours);
  fmt::print("  plain SQLite, 100 per commit   {:>10.0f} msg/s   ratio {:.2f}\n", plain_batched, ours / plain_batched);
  fmt::print("  plain SQLite, 1 per commit     {:>10.0f} msg/s   ratio {:.2f}\n", plain_single, ours / plain_single);
  std::filesystem::remove_all(dir);
  return 0;
}
