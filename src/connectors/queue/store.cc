#include "connectors/queue/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <thread>
#include <unordered_map>

#include "async/blocking.h"
#include "core/clock.h"
#include "core/json_text.h"
#include "logging/log.h"
#include "sqlite/sqlite.h"

namespace sluice::connectors::queue {

namespace {

// How long the database thread keeps SQLite's page cache with nothing to do.
constexpr auto kCacheKeptWhileIdle = std::chrono::seconds(5);

std::string metadata_json(const core::Metadata& md) {
  std::string out = "{";
  for (const auto& [k, v] : md.entries()) {
    if (out.size() > 1) out += ',';
    core::append_json_string(out, k);
    out += ':';
    core::append_json_string(out, v);
  }
  out += '}';
  return out;
}

void apply_metadata(const std::string& text, core::Metadata& md) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return;
  for (const auto& [k, val] : v.as_object())
    if (val.is_string()) md.set(k, std::string(val.as_string()));
}

}  // namespace

struct Store::Impl : std::enable_shared_from_this<Impl> {
  struct Row {
    int64_t id;
    std::string payload;
    std::string metadata;
    int64_t failed;
  };
  struct Lease {
    Row row;
    int64_t deadline_ns;
    DequeueOptions options;
  };
  struct Waiter {
    DequeueOptions options;
    AckFor ack_for;
    std::function<void(core::Batch)> complete;
  };
  struct QueueState {
    std::string name;
    int64_t loaded_up_to = 0;
    bool disk_exhausted = false;
    std::deque<Row> ready;
    std::unordered_map<int64_t, Lease> leased;
    std::deque<Waiter> waiters;
    int64_t depth = 0;
    bool readers_closed = false;
  };
  struct NewRow {
    std::string payload;
    std::string metadata;
    // A holder of the message's ack when it follows delivery (see
    // core::AckState::follow_delivery): kept until the row is delivered.
    core::AckHandle follower;
    int64_t id = 0;  // set by the commit
  };
  struct EnqueueOp {
    QueueState* queue;
    std::vector<NewRow> rows;
    // Rows written at commit time, after `rows` (enqueue_generated).
    size_t generated = 0;
    PayloadWriter generate;
    std::function<void(core::Result<void>)> complete;
    int64_t size() const { return static_cast<int64_t>(rows.size() + generated); }
  };
  struct AckOp {
    QueueState* queue;
    int64_t id;
    core::AckStatus status;
  };
  // What one commit does to failed deliveries.
  struct Failure {
    QueueState* queue;
    int64_t id;
    int64_t failed;
    bool dead;
  };

  const core::Clock& clock;  // leases expire by it
  std::string path;
  int lock_fd = -1;
  std::unique_ptr<sqlite::Database> db;
  std::unique_ptr<sqlite::Statement> insert, remove, set_failed, move_dead, load;
  // The next row id. Assigned here, not by SQLite: SQLite reuses the highest
  // id once that row is deleted, and a reused id would sit below a reader's
  // loaded_up_to and never be loaded. Owned by the database thread.
  int64_t next_id = 1;
  // Per delete of the last commit: whether a row was there to delete (the
  // depth counts rows, so a row acked twice counts once). Database thread.
  std::vector<char> deleted;

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::vector<EnqueueOp> enqueues;
  std::vector<AckOp> acks;
  // Operators' reads and moves (peek, move, remove): run by the database
  // thread between commits, without mu (each takes it for what it touches).
  std::vector<std::function<void()>> chores;
  std::map<std::string, QueueState> queues;  // node-based: QueueState* stay valid
  // Row id -> the ack of an upstream message waiting for this row's delivery.
  std::unordered_map<int64_t, core::AckHandle> followers;
  std::thread thread;

  Impl(const std::string& data_dir, const core::Clock& c) : clock(c) {
    std::filesystem::create_directories(data_dir);
    const std::string lock_path = data_dir + "/queue.lock";
    lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0) throw std::runtime_error(fmt::format("cannot open {}: {}", lock_path, std::strerror(errno)));
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(lock_fd);
      throw std::runtime_error(fmt::format("data_dir {} is in use by another sluice process", data_dir));
    }
    path = data_dir + "/queue.db";
    try {
      db = std::make_unique<sqlite::Database>(path);
    } catch (...) {
      ::close(lock_fd);
      throw;
    }
    db->exec(R"(CREATE TABLE IF NOT EXISTS messages (
              id INTEGER PRIMARY KEY,
              queue TEXT NOT NULL,
              payload BLOB NOT NULL,
              metadata TEXT NOT NULL DEFAULT '{}',
              failed_deliveries INTEGER NOT NULL DEFAULT 0,
              enqueued_at INTEGER NOT NULL))");
    db->exec("CREATE INDEX IF NOT EXISTS messages_by_queue ON messages(queue, id)");
    using sqlite::Statement;
    insert = std::make_unique<Statement>(
        *db, "INSERT INTO messages(id, queue, payload, metadata, enqueued_at) VALUES (?5, ?1, ?2, ?3, ?4)");
    remove = std::make_unique<Statement>(*db, "DELETE FROM messages WHERE id = ?1");
    set_failed = std::make_unique<Statement>(*db, "UPDATE messages SET failed_deliveries = ?2 WHERE id = ?1");
    move_dead = std::make_unique<Statement>(
        *db, "UPDATE messages SET queue = ?2, failed_deliveries = ?3 WHERE id = ?1");
    load = std::make_unique<Statement>(
        *db,
        "SELECT id, payload, metadata, failed_deliveries FROM messages WHERE queue = ?1 AND id > ?2 "
        "ORDER BY id LIMIT ?3");
    Statement max_id(*db, "SELECT COALESCE(MAX(id), 0) FROM messages");
    if (max_id.step()) next_id = max_id.column_int(0) + 1;
    Statement counts(*db, "SELECT queue, COUNT(*) FROM messages GROUP BY queue");
    while (counts.step()) state(counts.column_text(0)).depth = counts.column_int(1);
  }

  ~Impl() {
    insert.reset();
    remove.reset();
    set_failed.reset();
    move_dead.reset();
    load.reset();
    db.reset();
    if (lock_fd >= 0) ::close(lock_fd);
  }

  // Caller holds mu. The name is written once, when the queue is first
  // seen: the database thread reads it while committing, without mu.
  QueueState& state(const std::string& name) {
    auto [it, fresh] = queues.try_emplace(name);
    if (fresh) it->second.name = name;
    return it->second;
  }

  // --- the database thread ---------------------------------------------

  void run() {
    std::unique_lock lk(mu);
    auto last_work = std::chrono::steady_clock::now();
    bool cache_held = false;
    for (;;) {
      const bool work = cv.wait_for(lk, std::chrono::milliseconds(50), [&] {
        return stopping || !enqueues.empty() || !acks.empty() || !chores.empty() || wants_load();
      });
      if (stopping && enqueues.empty() && acks.empty() && chores.empty()) break;
      if (work) {
        last_work = std::chrono::steady_clock::now();
        cache_held = true;
      } else if (cache_held && std::chrono::steady_clock::now() - last_work > kCacheKeptWhileIdle) {
        // A burst's pages (up to SQLite's 2 MB cache) are not kept by an idle
        // daemon; the next read after a quiet spell comes from the OS's cache.
        sqlite3_db_release_memory(db->get());
        cache_held = false;
      }
      auto my_enqueues = std::move(enqueues);
      enqueues.clear();
      auto my_acks = std::move(acks);
      acks.clear();
      std::vector<std::pair<QueueState*, int64_t>> deletes;
      std::vector<Failure> failures;
      settle(my_acks, deletes, failures);
      expire_leases(failures);
      lk.unlock();
      auto error = commit(my_enqueues, deletes, failures);
      lk.lock();
      auto settled = finish_commit(my_enqueues, deletes, failures, error);
      auto my_chores = std::move(chores);
      chores.clear();
      if (!settled.empty() || !my_chores.empty()) {
        lk.unlock();
        for (auto& [follower, status] : settled) follower.resolve(status);
        for (auto& chore : my_chores) chore();
        lk.lock();
      }
      load_and_serve(lk);
    }
  }

  // Applies acks to the in-memory leases; decides which rows to delete and
  // which failed deliveries to record.
  void settle(const std::vector<AckOp>& ops, std::vector<std::pair<QueueState*, int64_t>>& deletes,
              std::vector<Failure>& failures) {
    for (const auto& op : ops) {
      auto it = op.queue->leased.find(op.id);
      if (op.status == core::AckStatus::delivered) {
        if (it != op.queue->leased.end()) op.queue->leased.erase(it);
        deletes.emplace_back(op.queue, op.id);
        continue;
      }
      if (it == op.queue->leased.end()) continue;  // lease expired already and was redelivered
      fail_lease(op.queue, it, op.status == core::AckStatus::rejected, failures);
    }
  }

  void fail_lease(QueueState* q, std::unordered_map<int64_t, Lease>::iterator it, bool permanent,
                  std::vector<Failure>& failures) {
    Lease lease = std::move(it->second);
    q->leased.erase(it);
    // Cut off by shutdown: not the message's fault, and it is redelivered on
    // restart. A rejection is a verdict on the message and stands.
    if (!permanent && (stopping || q->readers_closed)) return;
    const int64_t failed = lease.row.failed + 1;
    const int64_t max = lease.options.max_deliveries;
    const bool dead = permanent || (max > 0 && failed >= max);
    failures.push_back({q, lease.row.id, failed, dead});
    if (!dead) {
      lease.row.failed = failed;
      q->ready.push_front(std::move(lease.row));
    }
  }

  void expire_leases(std::vector<Failure>& failures) {
    const int64_t now = clock.now_ns();
    for (auto& [name, q] : queues) {
      for (auto it = q.leased.begin(); it != q.leased.end();) {
        auto next = std::next(it);
        if (it->second.deadline_ns <= now) {
          logging::warn("queue '{}': lease of message {} expired; delivering it again", name, it->first);
          fail_lease(&q, it, false, failures);
        }
        it = next;
      }
    }
  }

  // Writes everything in one transaction, or nothing; the ids of rows that
  // were not written are handed out again.
  std::optional<sqlite::Failure> commit(std::vector<EnqueueOp>& ops,
                                        const std::vector<std::pair<QueueState*, int64_t>>& deletes,
                                        const std::vector<Failure>& failures) {
    if (ops.empty() && deletes.empty() && failures.empty()) return std::nullopt;
    const int64_t first_id = next_id;
    auto failure = db->transaction([&] { return write(ops, deletes, failures); });
    if (failure) next_id = first_id;
    return failure;
  }

  // The statements of one commit, up to the first that fails: returns its
  // result code, SQLITE_DONE when all ran.
  int write(std::vector<EnqueueOp>& ops, const std::vector<std::pair<QueueState*, int64_t>>& deletes,
             const std::vector<Failure>& failures) {
    const int64_t ts = core::unix_ms();
    for (auto& op : ops) {
      for (auto& row : op.rows) {
        row.id = next_id++;
        const int rc = insert->bind(1, op.queue->name, false)
                           .bind_blob(2, row.payload, false)
                           .bind(3, row.metadata, false)
                           .bind(4, ts)
                           .bind(5, row.id)
                           .run();
        if (rc != SQLITE_DONE) return rc;
      }
      std::string payload;
      for (size_t i = 0; i < op.generated; ++i) {
        payload.clear();
        op.generate(i, payload);
        const int rc = insert->bind(1, op.queue->name, false)
                           .bind_blob(2, payload, false)
                           .bind(3, std::string_view("{}"), false)
                           .bind(4, ts)
                           .bind(5, next_id++)
                           .run();
        if (rc != SQLITE_DONE) return rc;
      }
    }
    deleted.clear();
    for (const auto& [q, id] : deletes) {
      if (const int rc = remove->bind(1, id).run(); rc != SQLITE_DONE) return rc;
      deleted.push_back(sqlite3_changes(db->get()) > 0);
    }
    for (const auto& f : failures) {
      const int rc = f.dead ? move_dead->bind(1, f.id).bind(2, f.queue->name + ".dead").bind(3, f.failed).run()
                            : set_failed->bind(1, f.id).bind(2, f.failed).run();
      if (rc != SQLITE_DONE) return rc;
    }
    return SQLITE_DONE;
  }

  using Settled = std::vector<std::pair<core::AckHandle, core::AckStatus>>;

  // Caller holds mu. Returns the followers whose rows were delivered or
  // dead-lettered; the caller resolves them after unlocking, since
  // resolving the last holder runs the source's callback.
  Settled finish_commit(std::vector<EnqueueOp>& ops,
                                             const std::vector<std::pair<QueueState*, int64_t>>& deletes,
                                             const std::vector<Failure>& failures,
                                             const std::optional<sqlite::Failure>& error) {
    Settled settled;
    if (error) {
      // Acks and failure counts that did not commit are harmless to lose:
      // the rows are still there and will be delivered again. A follower
      // resolves neutrally: the writer's own holder reports the failure.
      logging::limited(logging::Level::error, "queue-commit:" + path,
                       fmt::format("queue store {}: commit failed, nothing of it was written: {}", path, error->text));
      for (auto& op : ops) {
        for (auto& row : op.rows)
          if (row.follower) row.follower.resolve(core::AckStatus::delivered);
        op.complete(sqlite::fail(*error, "queue commit failed"));
      }
      return settled;
    }
    for (auto& op : ops) {
      op.queue->depth += op.size();
      op.queue->disk_exhausted = false;
      for (auto& row : op.rows) {
        if (!row.follower) continue;
        row.follower.state()->mark_durable();
        followers.emplace(row.id, std::move(row.follower));
      }
      op.complete({});
    }
    auto settle_follower = [&](int64_t id, core::AckStatus status) {
      auto it = followers.find(id);
      if (it == followers.end()) return;
      settled.emplace_back(std::move(it->second), status);
      followers.erase(it);
    };
    for (size_t i = 0; i < deletes.size(); ++i) {
      const auto& [q, id] = deletes[i];
      if (deleted[i]) --q->depth;  // a row acked twice (its lease had expired) is deleted once
      settle_follower(id, core::AckStatus::delivered);
    }
    for (const auto& f : failures) {
      if (!f.dead) continue;
      --f.queue->depth;
      ++state(f.queue->name + ".dead").depth;
      settle_follower(f.id, core::AckStatus::rejected);
    }
    return settled;
  }

  // Hands `op` to the database thread and waits for its commit.
  static boost::asio::awaitable<core::Result<void>> submit(std::shared_ptr<Impl> impl, const std::string& queue,
                                                           EnqueueOp op) {
    // The callback runs before this coroutine resumes: `queue` is alive.
    auto start = [impl, &queue, &op](std::function<void(core::Result<void>)> done) {
      std::lock_guard lock(impl->mu);
      if (impl->stopping) {
        done(core::fail(core::Errc::closed, "queue store is closing"));
        return;
      }
      op.queue = &impl->state(queue);
      op.complete = std::move(done);
      impl->enqueues.push_back(std::move(op));
      if (impl->enqueues.size() == 1) impl->cv.notify_one();
    };
    co_return co_await async::await_callback<core::Result<void>>(std::move(start));  // named: see async/blocking.h
  }

  // --- operators' chores (database thread, mu not held) -----------------

  std::vector<StoredMessage> peek_rows(const std::string& queue, int64_t after, size_t limit) {
    sqlite::Statement q(*db,
                        "SELECT id, payload, metadata, failed_deliveries, enqueued_at FROM messages "
                        "WHERE queue = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
    q.bind(1, queue).bind(2, after).bind(3, static_cast<int64_t>(limit));
    std::vector<StoredMessage> out;
    while (q.step())
      out.push_back({q.column_int(0), q.column_text(1), q.column_text(2), q.column_int(3), q.column_int(4)});
    return out;
  }

  // The ids of `queue` to act on: `ids`, or every row when empty; never one
  // leased now. Rows loaded into the ready list are taken out of it.
  std::vector<int64_t> claim_rows(const std::string& queue, std::vector<int64_t> ids) {
    if (ids.empty()) {
      sqlite::Statement q(*db, "SELECT id FROM messages WHERE queue = ?1 ORDER BY id");
      q.bind(1, queue);
      while (q.step()) ids.push_back(q.column_int(0));
    }
    std::lock_guard lock(mu);
    QueueState& q = state(queue);
    std::erase_if(ids, [&q](int64_t id) { return q.leased.contains(id); });
    std::erase_if(q.ready, [&ids](const Row& r) { return std::find(ids.begin(), ids.end(), r.id) != ids.end(); });
    return ids;
  }

  core::Result<int64_t> move_rows(const std::string& from, std::vector<int64_t> wanted, const std::string& to) {
    const auto ids = claim_rows(from, std::move(wanted));
    sqlite::Statement read(*db, "SELECT payload, metadata FROM messages WHERE id = ?1 AND queue = ?2");
    const int64_t first_id = next_id, ts = core::unix_ms();
    int64_t moved = 0;
    auto failure = db->transaction([&] {
      moved = 0;
      for (int64_t id : ids) {
        read.bind(1, id).bind(2, from);
        const bool found = read.step();
        const std::string payload = found ? read.column_text(0) : "", metadata = found ? read.column_text(1) : "";
        read.reset();
        if (!found) continue;  // gone meanwhile, or in another queue
        // A new id at the end: readers of `to` load rows above what they
        // loaded already, so an old id would never be seen.
        int rc = insert->bind(1, to).bind_blob(2, payload).bind(3, metadata).bind(4, ts).bind(5, next_id++).run();
        if (rc == SQLITE_DONE) rc = remove->bind(1, id).run();
        if (rc != SQLITE_DONE) return rc;
        ++moved;
      }
      return SQLITE_DONE;
    });
    if (failure) {
      next_id = first_id;
      return sqlite::fail(*failure, "queue move failed");
    }
    std::lock_guard lock(mu);
    state(from).depth -= moved;
    QueueState& target = state(to);
    target.depth += moved;
    target.disk_exhausted = false;
    cv.notify_one();
    return moved;
  }

  core::Result<int64_t> remove_rows(const std::string& queue, std::vector<int64_t> wanted) {
    const auto ids = claim_rows(queue, std::move(wanted));
    sqlite::Statement del(*db, "DELETE FROM messages WHERE id = ?1 AND queue = ?2");
    int64_t removed = 0;
    auto failure = db->transaction([&] {
      removed = 0;
      for (int64_t id : ids) {
        if (int rc = del.bind(1, id).bind(2, queue).run(); rc != SQLITE_DONE) return rc;
        removed += sqlite3_changes(db->get());
      }
      return SQLITE_DONE;
    });
    if (failure)
      return sqlite::fail(*failure, "queue delete failed");
    std::lock_guard lock(mu);
    state(queue).depth -= removed;
    return removed;
  }

  template <class R>
  static boost::asio::awaitable<R> run_chore(std::shared_ptr<Impl> impl, std::function<R()> work) {
    auto start = [impl, &work](std::function<void(R)> done) {
      std::lock_guard lock(impl->mu);
      if (impl->stopping) {
        done(R(core::fail(core::Errc::closed, "queue store is closing")));
        return;
      }
      impl->chores.push_back([work = std::move(work), done = std::move(done)] {
        // A damaged file (logged, and the process made unready, by the step
        // that met it) fails this chore, not the database thread.
        R result = [&]() -> R {
          try {
            return work();
          } catch (const std::runtime_error& e) {
            return core::fail(core::Errc::io_error, e.what());
          }
        }();
        done(std::move(result));
      });
      impl->cv.notify_one();
    };
    co_return co_await async::await_callback<R>(std::move(start));  // named: see async/blocking.h
  }

  bool wants_load() const {
    for (const auto& [name, q] : queues)
      if (!q.waiters.empty() && (!q.ready.empty() || !q.disk_exhausted)) return true;
    return false;
  }

  void load_and_serve(std::unique_lock<std::mutex>& lk) {
    for (auto& [name, q] : queues) {
      if (q.waiters.empty()) continue;
      if (q.ready.empty() && !q.disk_exhausted) {
        size_t want = 0;
        for (const auto& w : q.waiters) want += w.options.max;
        want = std::max<size_t>(want, 256);
        const int64_t after = q.loaded_up_to;
        lk.unlock();
        auto rows = load_rows(name, after, want);
        lk.lock();
        q.disk_exhausted = rows.size() < want;
        for (auto& r : rows) {
          q.loaded_up_to = std::max(q.loaded_up_to, r.id);
          q.ready.push_back(std::move(r));
        }
      }
      while (!q.waiters.empty() && !q.ready.empty()) {
        Waiter w = std::move(q.waiters.front());
        q.waiters.pop_front();
        w.complete(lease(q, w.options, w.ack_for));
      }
    }
  }

  // A damaged database yields no rows from this load (step() has logged it
  // and marked the process unready), and the queue stops loading until the
  // next enqueue tries again.
  std::vector<Row> load_rows(const std::string& queue, int64_t after, size_t limit) try {
    return load_rows_or_throw(queue, after, limit);
  } catch (const std::runtime_error&) {
    return {};
  }

  std::vector<Row> load_rows_or_throw(const std::string& queue, int64_t after, size_t limit) {
    std::vector<Row> rows;
    load->bind(1, queue, false).bind(2, after).bind(3, static_cast<int64_t>(limit));
    while (load->step()) {
      Row r;
      r.id = load->column_int(0);
      r.payload = load->column_text(1);  // a blob; column_text keeps its bytes and length
      r.metadata = load->column_text(2);
      if (r.metadata.empty()) r.metadata = "{}";
      r.failed = load->column_int(3);
      rows.push_back(std::move(r));
    }
    load->reset();
    return rows;
  }

  // Leases up to options.max ready rows as a batch. Caller holds mu.
  core::Batch lease(QueueState& q, const DequeueOptions& options, const AckFor& ack_for) {
    core::Batch batch;
    const int64_t deadline = clock.now_ns() + options.visibility_timeout.count();
    while (!q.ready.empty() && batch.size() < options.max) {
      Row row = std::move(q.ready.front());
      q.ready.pop_front();
      core::Message m(row.payload);
      apply_metadata(row.metadata, m.meta());
      m.meta().set("delivery_count", std::to_string(row.failed + 1));
      const int64_t id = row.id;
      m.set_ack(ack_for(id));
      batch.messages.push_back(std::move(m));
      q.leased.emplace(id, Lease{std::move(row), deadline, options});
    }
    if (!batch.empty())
      logging::debug("queue '{}': leased {} message(s) for {} ms ({} leased in all)", q.name, batch.size(),
                     options.visibility_timeout.count() / 1'000'000, q.leased.size());
    return batch;
  }

  // Wakes every waiting dequeue of `q` with an empty batch; later ones
  // return at once. Caller holds mu.
  static void close_queue(QueueState& q) {
    q.readers_closed = true;
    for (auto& w : q.waiters) w.complete(core::Batch{});
    q.waiters.clear();
  }

  void post_acks(const std::string& queue, const std::vector<int64_t>& ids, core::AckStatus status) {
    if (ids.empty()) return;
    std::lock_guard lock(mu);
    const bool was_empty = acks.empty();
    QueueState* q = &state(queue);
    for (int64_t id : ids) acks.push_back({q, id, status});
    if (was_empty) cv.notify_one();
  }
};

Store::Store(const std::string& data_dir, const core::Clock& clock)
    : impl_(std::make_shared<Impl>(data_dir, clock)) {
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

Store::~Store() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    for (auto& [name, q] : impl_->queues) Impl::close_queue(q);
  }
  impl_->cv.notify_one();
  impl_->thread.join();
}

boost::asio::awaitable<core::Result<void>> Store::enqueue(const std::string& queue, const core::Batch& batch) {
  Impl::EnqueueOp op;
  op.rows.reserve(batch.size());
  for (const auto& m : batch.messages) {
    const auto* ack = m.ack().state();
    core::AckHandle follower = ack && ack->follows_delivery() ? m.ack() : core::AckHandle{};
    op.rows.push_back({m.payload(), metadata_json(m.meta()), std::move(follower)});
  }
  co_return co_await Impl::submit(impl_, queue, std::move(op));
}

boost::asio::awaitable<core::Result<void>> Store::enqueue_generated(const std::string& queue, size_t count,
                                                                    PayloadWriter payload) {
  Impl::EnqueueOp op;
  op.generated = count;
  op.generate = std::move(payload);
  co_return co_await Impl::submit(impl_, queue, std::move(op));
}

boost::asio::awaitable<core::Batch> Store::dequeue(const std::string& queue, DequeueOptions options) {
  std::weak_ptr<Impl> weak = impl_;
  AckFor direct = [weak, queue](int64_t id) {
    return core::AckHandle::make([weak, queue, id](core::AckStatus status) {
      if (auto impl = weak.lock()) impl->post_acks(queue, {id}, status);
    });
  };
  co_return co_await dequeue(queue, options, std::move(direct));
}

void Store::settle(const std::string& queue, const std::vector<int64_t>& ids, core::AckStatus status) {
  impl_->post_acks(queue, ids, status);
}

boost::asio::awaitable<core::Batch> Store::dequeue(const std::string& queue, DequeueOptions options,
                                                   AckFor ack_for) {
  auto impl = impl_;
  auto start = [impl, &queue, options, &ack_for](std::function<void(core::Batch)> done) {
        std::lock_guard lock(impl->mu);
        auto& q = impl->state(queue);
        if (q.readers_closed) {
          done(core::Batch{});
          return;
        }
        if (!q.ready.empty() && q.waiters.empty()) {
          done(impl->lease(q, options, ack_for));
          return;
        }
        q.waiters.push_back({options, std::move(ack_for), std::move(done)});
        impl->cv.notify_one();
  };
  co_return co_await async::await_callback<core::Batch>(std::move(start));  // named: see async/blocking.h
}

void Store::close_readers(const std::string& queue) {
  std::lock_guard lock(impl_->mu);
  Impl::close_queue(impl_->state(queue));
}

std::vector<std::pair<std::string, int64_t>> Store::queues() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& [name, q] : impl_->queues) out.emplace_back(name, q.depth);
  return out;
}

boost::asio::awaitable<core::Result<std::vector<Store::StoredMessage>>> Store::peek(const std::string& queue,
                                                                                    int64_t after_id, size_t limit) {
  auto impl = impl_;
  std::function<core::Result<std::vector<StoredMessage>>()> work = [impl, queue, after_id, limit] {
    return core::Result<std::vector<StoredMessage>>(impl->peek_rows(queue, after_id, limit));
  };
  co_return co_await Impl::run_chore(impl_, std::move(work));
}

boost::asio::awaitable<core::Result<int64_t>> Store::move(const std::string& from, std::vector<int64_t> ids,
                                                          const std::string& to) {
  auto impl = impl_;
  std::function<core::Result<int64_t>()> work = [impl, from, ids = std::move(ids), to]() mutable {
    return impl->move_rows(from, std::move(ids), to);
  };
  co_return co_await Impl::run_chore(impl_, std::move(work));
}

boost::asio::awaitable<core::Result<int64_t>> Store::remove(const std::string& queue, std::vector<int64_t> ids) {
  auto impl = impl_;
  std::function<core::Result<int64_t>()> work = [impl, queue, ids = std::move(ids)]() mutable {
    return impl->remove_rows(queue, std::move(ids));
  };
  co_return co_await Impl::run_chore(impl_, std::move(work));
}

int64_t Store::depth(const std::string& queue) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->queues.find(queue);
  return it == impl_->queues.end() ? 0 : it->second.depth;
}

}  // namespace sluice::connectors::queue
