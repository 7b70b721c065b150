#pragma once
// The embedded durable queue: named queues in one SQLite database
// (`<data_dir>/queue.db`, WAL mode, synchronous=FULL).
//
// Durability: enqueue() completes only after the rows are committed and
// fsync'd. One thread owns the database and commits everything that arrived
// while the previous commit ran in one transaction: group commit, many
// enqueues and acks per fsync.
//
// Delivery: rows are loaded in id order and leased in memory for
// visibility_timeout. An ack deletes the row; a nack or an expired lease
// makes it ready again and counts a failed delivery (persisted); after
// max_deliveries it moves to the queue `<name>.dead`. A crash voids every
// lease, so on restart all unacknowledged rows are delivered again: at least
// once, and redeliveries are bounded by what was in flight.
//
// Memory and damage: after 5 s with nothing to do the database thread
// gives SQLite's page cache back. A damaged file met at run time fails the
// operation that met it (a load yields nothing, an operator's peek answers
// 503), is logged once, and makes /health/ready 503 (sqlite/sqlite.h).
//
// Followed acks: a message whose AckState follows delivery (http_server's
// `ack: delivered`) leaves a holder of its ack here, keyed by row id, until
// the row is deleted (delivered) or moved to `.dead` (rejected).
//
// Schema (inspect with `sqlite3 data/queue.db`):
//   messages(id INTEGER PRIMARY KEY, queue TEXT, payload BLOB,
//            metadata TEXT /* JSON object */, failed_deliveries INTEGER,
//            enqueued_at INTEGER /* unix ms */)
//
// Threads: every method is safe from any thread; completions run on the
// caller's executor.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/clock.h"
#include "core/message.h"

namespace sluice::connectors::queue {

struct DequeueOptions {
  size_t max = 100;
  std::chrono::nanoseconds visibility_timeout = std::chrono::minutes(5);
  int64_t max_deliveries = 10;  // 0: no limit
};

class Store {
 public:
  // Opens or creates the database; throws std::runtime_error with the reason
  // (including when another process holds the data directory).
  // `clock`: what lease deadlines are measured by (tests pass a ManualClock;
  // the database thread looks at it every 50 ms).
  explicit Store(const std::string& data_dir, const core::Clock& clock = core::SteadyClock::instance());
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Durably appends the batch's payloads and metadata to `queue`.
  boost::asio::awaitable<core::Result<void>> enqueue(const std::string& queue, const core::Batch& batch);
  // Durably appends `count` payloads, each written by `payload(i, out)` on
  // the database thread while it commits, all in one transaction: a million
  // rows without a million strings in memory. Empty metadata.
  using PayloadWriter = std::function<void(size_t index, std::string& out)>;
  boost::asio::awaitable<core::Result<void>> enqueue_generated(const std::string& queue, size_t count,
                                                               PayloadWriter payload);
  // Makes the ack of the leased row `id`; its final status must reach
  // settle() (the queue input routes it through a runtime::AckBatcher).
  using AckFor = std::function<core::AckHandle(int64_t id)>;

  // Waits until `queue` has messages (or close_readers() is called) and
  // leases up to options.max of them, each with the ack `ack_for` makes. An
  // empty batch means the queue's readers were closed.
  boost::asio::awaitable<core::Batch> dequeue(const std::string& queue, DequeueOptions options, AckFor ack_for);
  // The same, with acks that settle one row each, at once.
  boost::asio::awaitable<core::Batch> dequeue(const std::string& queue, DequeueOptions options);
  // Applies final statuses of leased rows: delivered deletes them, errored
  // delivers them again (counting a failed delivery), rejected moves them to
  // `<queue>.dead`. Committed by the database thread with whatever else is
  // pending; returns at once.
  void settle(const std::string& queue, const std::vector<int64_t>& ids, core::AckStatus status);
  // Wakes every waiting dequeue of `queue` with an empty batch; later ones
  // return at once. Failed deliveries from then on are not counted (shutdown).
  void close_readers(const std::string& queue);

  // Rows in `queue` not yet acknowledged (ready, leased or on disk).
  int64_t depth(const std::string& queue) const;
  // Every queue the store knows (on disk or touched since it opened), with
  // its depth, by name.
  std::vector<std::pair<std::string, int64_t>> queues() const;

  // For operators (the dashboard's dead letters). Each runs on the database
  // thread between commits.
  struct StoredMessage {
    int64_t id;
    std::string payload, metadata_json;
    int64_t failed_deliveries, enqueued_at_ms;
  };
  // Up to `limit` rows of `queue` with ids above `after_id`, in id order.
  boost::asio::awaitable<core::Result<std::vector<StoredMessage>>> peek(const std::string& queue, int64_t after_id,
                                                                        size_t limit);
  // Moves the rows `ids` of `from` (all of them when empty) to the end of
  // `to`, their failed deliveries reset, in one transaction; rows leased
  // right now stay. Returns how many moved.
  boost::asio::awaitable<core::Result<int64_t>> move(const std::string& from, std::vector<int64_t> ids,
                                                     const std::string& to);
  // Deletes the rows `ids` of `queue` (all when empty) but leased ones.
  boost::asio::awaitable<core::Result<int64_t>> remove(const std::string& queue, std::vector<int64_t> ids);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::connectors::queue
