// The embedded ledger store: a Book in memory, every change written through
// to `<data_dir>/ledger.db` in one transaction per call, and the Book
// rebuilt from the database on open. Calls run on the blocking pool. Claims
// are held in memory (the data_dir lock keeps this store to one process)
// and written to ledger_claims until their send is recorded, so the claims
// of a process that died unsettled are known as maybe-sent on open.
//
// Schema (inspect with `sqlite3 data/ledger.db`):
//   ledger_alerts(id TEXT PRIMARY KEY, created_ms, recipients, body, sender,
//                 resend_codes /* "30003,30008" */, resend_after_ms,
//                 resend_max_attempts, resend_window_ms)
//   ledger_messages(sid TEXT PRIMARY KEY, alert_id, recipient, status,
//                   send_ms, sent_ms, final_ms, error_code, segments, attempt)
//   ledger_events(id INTEGER PRIMARY KEY, sid, status, error_code, at_ms,
//                 effect /* moved, duplicate, stale, held, unknown_status */)
//   ledger_claims(alert_id, recipient, claimed_ms, attempt, PRIMARY KEY (alert_id, recipient))
// A callback still held is an event with effect 'held' whose sid has no
// message row. Which attempt supersedes which, the resend queue and the
// late callbacks are derived from these rows on open. A ledger.db from
// before resends gets the new columns (with their defaults) on open.


#include <filesystem>
#include <mutex>
#include <set>
#include <unordered_map>

#include "async/blocking.h"
#include "core/clock.h"
#include "ledger/store.h"
#include "logging/log.h"
#include "sqlite/sqlite.h"

namespace sluice::ledger {

namespace {

const char* effect_name(Effect e) {
  switch (e) {
    case Effect::moved: return "moved";
    case Effect::duplicate: return "duplicate";
    case Effect::stale: return "stale";
    case Effect::held: return "held";
    case Effect::unknown_status: return "unknown_status";
  }
  return "?";
}

class SqliteStore final : public Store, public std::enable_shared_from_this<SqliteStore> {
 public:
  explicit SqliteStore(const std::string& data_dir) {
    std::filesystem::create_directories(data_dir);
    db_ = std::make_unique<sqlite::Database>(data_dir + "/ledger.db");
    db_->exec(R"(CREATE TABLE IF NOT EXISTS ledger_alerts (
                   id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, recipients INTEGER NOT NULL,
                   body TEXT NOT NULL, sender TEXT NOT NULL))");
    add_column("ledger_alerts", "resend_codes", "TEXT NOT NULL DEFAULT ''");
    add_column("ledger_alerts", "resend_after_ms", "INTEGER NOT NULL DEFAULT 0");
    add_column("ledger_alerts", "resend_max_attempts", "INTEGER NOT NULL DEFAULT 0");
    add_column("ledger_alerts", "resend_window_ms", "INTEGER NOT NULL DEFAULT " + std::to_string(kDefaultWindowMs));
    db_->exec(R"(CREATE TABLE IF NOT EXISTS ledger_messages (
                   sid TEXT PRIMARY KEY, alert_id TEXT NOT NULL, recipient TEXT NOT NULL, status TEXT NOT NULL,
                   send_ms INTEGER NOT NULL, sent_ms INTEGER NOT NULL, final_ms INTEGER NOT NULL,
                   error_code TEXT NOT NULL, segments INTEGER NOT NULL))");
    add_column("ledger_messages", "attempt", "INTEGER NOT NULL DEFAULT 1");
    db_->exec(R"(CREATE TABLE IF NOT EXISTS ledger_events (
                   id INTEGER PRIMARY KEY, sid TEXT NOT NULL, status TEXT NOT NULL, error_code TEXT NOT NULL,
                   at_ms INTEGER NOT NULL, effect TEXT NOT NULL))");
    db_->exec("CREATE INDEX IF NOT EXISTS ledger_events_held ON ledger_events(effect) WHERE effect = 'held'");
    db_->exec(R"(CREATE TABLE IF NOT EXISTS ledger_claims (
                   alert_id TEXT NOT NULL, recipient TEXT NOT NULL, claimed_ms INTEGER NOT NULL,
                   PRIMARY KEY (alert_id, recipient)) WITHOUT ROWID)");
    add_column("ledger_claims", "attempt", "INTEGER NOT NULL DEFAULT 1");
    insert_claim_ = std::make_unique<sqlite::Statement>(
        *db_, "INSERT OR REPLACE INTO ledger_claims(alert_id, recipient, claimed_ms, attempt) VALUES (?1, ?2, ?3, ?4)");
    delete_claim_ = std::make_unique<sqlite::Statement>(
        *db_, "DELETE FROM ledger_claims WHERE alert_id = ?1 AND recipient = ?2");
    insert_alert_ = std::make_unique<sqlite::Statement>(
        *db_, "INSERT OR REPLACE INTO ledger_alerts(id, created_ms, recipients, body, sender, resend_codes, "
              "resend_after_ms, resend_max_attempts, resend_window_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    delete_alert_ = std::make_unique<sqlite::Statement>(*db_, "DELETE FROM ledger_alerts WHERE id = ?1");
    upsert_message_ = std::make_unique<sqlite::Statement>(
        *db_, "INSERT OR REPLACE INTO ledger_messages(sid, alert_id, recipient, status, send_ms, sent_ms, final_ms, "
              "error_code, segments, attempt) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    insert_event_ = std::make_unique<sqlite::Statement>(
        *db_, "INSERT INTO ledger_events(sid, status, error_code, at_ms, effect) VALUES (?1, ?2, ?3, ?4, ?5)");
    load();
    load_unsettled_claims();
  }

  core::Result<void> create_alert_now(const AlertInfo& info) {
    std::lock_guard lock(mu_);
    return write([&] {
      book_.add_alert(info);
      return insert_alert_->bind(1, info.id)
          .bind(2, info.created_ms)
          .bind(3, info.recipients)
          .bind(4, info.body)
          .bind(5, info.from)
          .bind(6, info.resend.codes_text())
          .bind(7, info.resend.after_ms)
          .bind(8, info.resend.max_attempts)
          .bind(9, info.resend.window_ms)
          .run();
    });
  }

  // Gone from the book at once; its row is deleted by this write or, on a
  // full disk, by the next one that succeeds.
  core::Result<void> remove_alert_now(const std::string& id) {
    std::lock_guard lock(mu_);
    unremoved_.insert(id);
    book_.remove_alert(id);
    if (auto r = write([] { return SQLITE_DONE; }); !r)
      logging::warn("ledger: alert {} is forgotten; its row leaves ledger.db with the next write that succeeds ({})",
                   id, r.error().to_string());
    return {};
  }

  core::Result<void> record_sends_now(const std::vector<Send>& sends) {
    std::lock_guard lock(mu_);
    std::vector<const Send*> conflicts;
    auto r = write([&] {
      conflicts.clear();  // a failed write is retried whole by the caller
      for (const auto& s : sends) {
        if (int rc = delete_claim_->bind(1, s.alert_id).bind(2, s.recipient).run(); rc != SQLITE_DONE) return rc;
        const SendEffect effect = book_.record_send(s);
        if (effect == SendEffect::duplicate) continue;
        if (effect == SendEffect::sid_conflict) conflicts.push_back(&s);
        // Held callbacks were applied by record_send: the row has the result.
        const std::string& key = effect == SendEffect::sid_conflict ? Book::conflict_key(s) : s.sid;
        if (int rc = save_message(*book_.message(key)); rc != SQLITE_DONE) return rc;
      }
      return SQLITE_DONE;
    });
    if (!r) return r;
    for (const auto& s : sends) {
      claims_.erase(claim_key(s.alert_id, s.recipient, s.attempt));
      maybe_sent_.erase(claim_key(s.alert_id, s.recipient, s.attempt));
    }
    for (const Send* s : conflicts) {
      const Message* holder = book_.message(s->sid);
      logging::warn("ledger: the provider gave sid {} to alert {} recipient {}, but it already belongs to alert {} "
                    "recipient {}; both are kept, the second as {} (callbacks for the sid count for the first)",
                    s->sid, s->alert_id, s->recipient, holder ? holder->alert_id : "?", holder ? holder->recipient : "?",
                    Book::conflict_key(*s));
    }
    return r;
  }

  core::Result<void> apply_statuses_now(const std::vector<StatusEvent>& events) {
    std::lock_guard lock(mu_);
    return write([&] {
      for (const auto& e : events) {
        const Effect effect = book_.apply(e);
        int rc = insert_event_->bind(1, e.sid)
                     .bind(2, e.status)
                     .bind(3, e.error_code)
                     .bind(4, e.at_ms)
                     .bind(5, effect_name(effect), false)
                     .run();
        if (rc == SQLITE_DONE && effect == Effect::moved) rc = save_message(*book_.message(e.sid));
        if (rc != SQLITE_DONE) return rc;
      }
      return SQLITE_DONE;
    });
  }

  Task<core::Result<void>> create_alert(AlertInfo info) override {
    auto self = shared_from_this();
    auto work = [self, info = std::move(info)] { return self->create_alert_now(info); };
    co_return co_await async::run_blocking(std::move(work));  // named: see async/blocking.h
  }

  Task<core::Result<void>> remove_alert(std::string alert_id) override {
    auto self = shared_from_this();
    auto work = [self, id = std::move(alert_id)] { return self->remove_alert_now(id); };
    co_return co_await async::run_blocking(std::move(work));  // named: see async/blocking.h
  }

  Task<core::Result<void>> record_sends(std::vector<Send> sends) override {
    auto self = shared_from_this();
    auto work = [self, sends = std::move(sends)] { return self->record_sends_now(sends); };
    co_return co_await async::run_blocking(std::move(work));
  }

  Task<core::Result<void>> apply_statuses(std::vector<StatusEvent> events) override {
    auto self = shared_from_this();
    auto work = [self, events = std::move(events)] { return self->apply_statuses_now(events); };
    co_return co_await async::run_blocking(std::move(work));
  }

  // A new claim is committed before it is granted (one transaction a batch).
  Task<core::Result<std::vector<ClaimAnswer>>> claim_sends(std::vector<Recipient> recipients, std::string owner,
                                                           std::chrono::milliseconds lease) override {
    auto self = shared_from_this();
    auto work = [self, recipients = std::move(recipients), owner = std::move(owner), lease] {
      return self->claim_now(recipients, owner, lease);
    };
    co_return co_await async::run_blocking(std::move(work));
  }

  Task<core::Result<std::optional<AlertReport>>> report(std::string alert_id) override {
    auto self = shared_from_this();
    auto work = [self, id = std::move(alert_id)]() -> core::Result<std::optional<AlertReport>> {
      std::lock_guard lock(self->mu_);
      const AlertStats* a = self->book_.alert(id);
      if (!a) return std::optional<AlertReport>();
      return std::optional<AlertReport>(make_report(*a));
    };
    co_return co_await async::run_blocking(std::move(work));
  }

  Task<core::Result<std::vector<Message>>> overdue(int64_t sent_before_ms, OverdueCursor after,
                                                   size_t limit) override {
    auto self = shared_from_this();
    auto work = [self, sent_before_ms, after = std::move(after), limit]() -> core::Result<std::vector<Message>> {
      std::lock_guard lock(self->mu_);
      auto found = self->book_.overdue(sent_before_ms, after, limit);
      self->book_.note_reconciling(found);
      return found;
    };
    co_return co_await async::run_blocking(std::move(work));
  }

  Task<core::Result<std::vector<ResendOrder>>> take_resends(int64_t now_ms, std::chrono::milliseconds lease,
                                                            size_t limit) override {
    auto self = shared_from_this();
    auto work = [self, now_ms, lease, limit]() -> core::Result<std::vector<ResendOrder>> {
      std::lock_guard lock(self->mu_);
      return self->book_.take_resends(now_ms, lease.count(), limit);
    };
    co_return co_await async::run_blocking(std::move(work));
  }

  Task<core::Result<RecipientPage>> recipients(std::string alert_id, std::vector<Status> statuses, size_t offset,
                                               size_t limit) override {
    auto self = shared_from_this();
    auto work = [self, alert_id = std::move(alert_id), statuses = std::move(statuses), offset,
                 limit]() -> core::Result<RecipientPage> {
      std::lock_guard lock(self->mu_);
      return self->book_.recipients(alert_id, statuses, offset, limit);
    };
    co_return co_await async::run_blocking(std::move(work));
  }

  Task<core::Result<std::vector<AlertReport>>> reports() override {
    auto self = shared_from_this();
    auto work = [self]() -> core::Result<std::vector<AlertReport>> {
      std::lock_guard lock(self->mu_);
      std::vector<AlertReport> out;
      for (const AlertStats* a : self->book_.alerts()) out.push_back(make_report(*a));
      return out;
    };
    co_return co_await async::run_blocking(std::move(work));
  }

  StoreStats stats() const override {
    std::lock_guard lock(mu_);
    return {.counted = book_.counters(), .held = book_.held()};
  }

 private:
  core::Result<std::vector<ClaimAnswer>> claim_now(const std::vector<Recipient>& recipients, const std::string& owner,
                                                   std::chrono::milliseconds lease) {
    std::vector<ClaimAnswer> out;
    out.reserve(recipients.size());
    const int64_t now = core::unix_ms();
    std::lock_guard lock(mu_);
    std::vector<const Recipient*> fresh_claims;  // not yet in ledger_claims
    for (const auto& r : recipients) {
      if (book_.send_recorded(r.alert_id, r.recipient, r.attempt)) {
        out.push_back({Claim::already_sent});
        continue;
      }
      const std::string key = claim_key(r.alert_id, r.recipient, r.attempt);
      auto [it, fresh] = claims_.try_emplace(key, ClaimHolder{owner, now + lease.count()});
      if (!fresh && it->second.owner != owner && it->second.expires_ms > now) {
        out.push_back({Claim::claimed_elsewhere});
        continue;
      }
      it->second = {owner, now + lease.count()};
      if (auto earlier = maybe_sent_.find(key); earlier != maybe_sent_.end()) {
        out.push_back({Claim::maybe_sent, earlier->second});
        continue;
      }
      if (fresh) fresh_claims.push_back(&r);
      out.push_back({Claim::granted});
    }
    if (fresh_claims.empty()) return out;
    auto written = write([&] {
      for (const Recipient* r : fresh_claims)
        if (int rc = insert_claim_->bind(1, r->alert_id).bind(2, r->recipient).bind(3, now).bind(4, r->attempt).run();
            rc != SQLITE_DONE)
          return rc;
      return SQLITE_DONE;
    });
    if (!written) {  // not durable, so not granted: the sender tries again later
      for (const Recipient* r : fresh_claims) claims_.erase(claim_key(r->alert_id, r->recipient, r->attempt));
      return std::unexpected(written.error());
    }
    return out;
  }

  int save_message(const Message& m) {
    return upsert_message_->bind(1, m.sid)
        .bind(2, m.alert_id)
        .bind(3, m.recipient)
        .bind(4, to_string(m.status), false)
        .bind(5, m.send_ms)
        .bind(6, m.sent_ms)
        .bind(7, m.final_ms)
        .bind(8, m.error_code)
        .bind(9, m.segments)
        .bind(10, m.attempt)
        .run();
  }

  // Runs `body` (book changes and their rows) in one transaction, after
  // deleting the rows of removed alerts. When it does not commit, the book
  // is rebuilt from the database (less the removed alerts), so memory never
  // holds what disk does not. Caller holds mu_.
  template <class Body>
  core::Result<void> write(Body body) {
    const auto failure = db_->transaction([&] {
      const int rc = delete_unremoved();
      return rc == SQLITE_DONE ? body() : rc;
    });
    if (!failure) {
      unremoved_.clear();
      return {};
    }
    const Counters counters = book_.counters();  // they count what happened, written or not
    try {
      load();
    } catch (const std::runtime_error&) {
      // A damaged database (logged, and /health/ready is 503): the book
      // keeps what it could read back.
    }
    for (const auto& id : unremoved_) book_.remove_alert(id);
    book_.set_counters(counters);
    return sqlite::fail(*failure, "ledger write failed");
  }

  int delete_unremoved() {
    for (const auto& id : unremoved_)
      if (const int rc = delete_alert_->bind(1, id).run(); rc != SQLITE_DONE) return rc;
    return SQLITE_DONE;
  }

  void load() {
    book_ = Book{};
    sqlite::Statement alerts(*db_,
                             "SELECT id, created_ms, recipients, body, sender, resend_codes, resend_after_ms, "
                             "resend_max_attempts, resend_window_ms FROM ledger_alerts ORDER BY created_ms");
    while (alerts.step())
      book_.add_alert({.id = alerts.column_text(0),
                       .created_ms = alerts.column_int(1),
                       .recipients = alerts.column_int(2),
                       .body = alerts.column_text(3),
                       .from = alerts.column_text(4),
                       .resend = {.codes = ResendPolicy::codes_from_text(alerts.column_text(5)),
                                  .after_ms = alerts.column_int(6),
                                  .max_attempts = alerts.column_int(7),
                                  .window_ms = alerts.column_int(8)}});
    sqlite::Statement messages(*db_,
                               "SELECT sid, alert_id, recipient, status, send_ms, sent_ms, final_ms, error_code, "
                               "segments, attempt FROM ledger_messages ORDER BY send_ms");
    while (messages.step()) {
      Message m{.alert_id = messages.column_text(1),
                .recipient = messages.column_text(2),
                .sid = messages.column_text(0),
                .status = parse_status(messages.column_text(3)).value_or(Status::queued),
                .send_ms = messages.column_int(4),
                .sent_ms = messages.column_int(5),
                .final_ms = messages.column_int(6),
                .error_code = messages.column_text(7),
                .segments = messages.column_int(8),
                .attempt = messages.column_int(9)};
      book_.restore(m);
    }
    sqlite::Statement late(*db_,
                           "SELECT m.alert_id, COUNT(*) FROM ledger_events e JOIN ledger_messages m ON m.sid = e.sid "
                           "JOIN ledger_alerts a ON a.id = m.alert_id WHERE e.at_ms > a.created_ms + a.resend_window_ms "
                           "AND e.effect != 'unknown_status' GROUP BY m.alert_id");
    while (late.step()) book_.add_late_callbacks(late.column_text(0), late.column_int(1));
    sqlite::Statement held(*db_,
                           "SELECT e.sid, e.status, e.error_code, e.at_ms FROM ledger_events e WHERE e.effect = 'held' "
                           "AND NOT EXISTS (SELECT 1 FROM ledger_messages m WHERE m.sid = e.sid) ORDER BY e.id");
    while (held.step())
      book_.restore_held({held.column_text(0), held.column_text(1), held.column_text(2), held.column_int(3)});
  }

  // On open only: claims left unsettled by a sender that stopped (or died)
  // before its send was recorded. The provider may have those messages.
  void load_unsettled_claims() {
    sqlite::Statement claims(*db_, "SELECT alert_id, recipient, claimed_ms, attempt FROM ledger_claims");
    while (claims.step()) {
      const std::string alert_id = claims.column_text(0), recipient = claims.column_text(1);
      const int64_t attempt = claims.column_int(3);
      if (!book_.send_recorded(alert_id, recipient, attempt))
        maybe_sent_[claim_key(alert_id, recipient, attempt)] = claims.column_int(2);
    }
  }

  // A ledger.db from an older sluice lacks the newer columns.
  void add_column(const char* table, const char* column, const std::string& declaration) {
    sqlite::Statement info(*db_, (std::string("PRAGMA table_info(") + table + ")").c_str());
    while (info.step())
      if (info.column_text(1) == column) return;
    db_->exec((std::string("ALTER TABLE ") + table + " ADD COLUMN " + column + " " + declaration).c_str());
  }

  static std::string claim_key(const std::string& alert_id, const std::string& recipient, int64_t attempt) {
    return alert_id + '\n' + recipient + '\n' + std::to_string(attempt);
  }
  struct ClaimHolder {
    std::string owner;
    int64_t expires_ms;
  };

  mutable std::mutex mu_;
  std::unordered_map<std::string, ClaimHolder> claims_;
  // Claim key -> when an earlier process claimed it without recording a send.
  std::unordered_map<std::string, int64_t> maybe_sent_;
  std::unique_ptr<sqlite::Database> db_;
  std::unique_ptr<sqlite::Statement> insert_alert_, delete_alert_, upsert_message_, insert_event_, insert_claim_,
      delete_claim_;
  // Alerts gone from the book whose rows a full disk kept in ledger.db; every
  // write deletes them first. (A restart before one succeeds brings them back.)
  std::set<std::string> unremoved_;
  Book book_;
};

}  // namespace

std::shared_ptr<Store> open_sqlite_store(const std::string& data_dir) {
  return std::make_shared<SqliteStore>(data_dir);
}

}  // namespace sluice::ledger
