#include "sqlite/sqlite.h"

#include <fmt/format.h>

#include <stdexcept>

namespace sluice::sqlite {

Database::Database(const std::string& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error(fmt::format("cannot open {}: {}", path, why));
  }
  try {
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("PRAGMA busy_timeout=5000");
    // Checkpoint at 1 MB of WAL, not SQLite's 4 MB: many small commits (acks,
    // callbacks) fill a WAL with old page copies, and a small data_dir
    // would be full of them before the first checkpoint.
    exec("PRAGMA wal_autocheckpoint=256");
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

Database::~Database() { sqlite3_close(db_); }

void Database::exec(const char* sql) {
  if (auto why = try_exec(sql); !why.empty()) throw std::runtime_error(fmt::format("sqlite: {} ({})", why, sql));
}

std::string Database::try_exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) == SQLITE_OK) return {};
  std::string why = err ? err : sqlite3_errmsg(db_);
  sqlite3_free(err);
  return why;
}

std::optional<Failure> Database::transaction(const std::function<int()>& body) {
  const auto full = [this] { return sqlite3_errcode(db_) == SQLITE_FULL; };
  if (auto why = try_exec("BEGIN IMMEDIATE"); !why.empty()) return Failure{std::move(why), full()};
  std::optional<Failure> failure;
  if (const int rc = body(); rc != SQLITE_DONE)
    failure = Failure{error(), (rc & 0xff) == SQLITE_FULL};
  else if (auto why = try_exec("COMMIT"); !why.empty())
    failure = Failure{std::move(why), full()};
  if (failure) try_exec("ROLLBACK");  // harmless when SQLite rolled back already
  // On a full disk, much of the space is often the WAL: old copies of pages
  // rewritten by many small commits. Folding it into the database and
  // truncating it gives that space back for the next try.
  if (failure && failure->disk_full) sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  return failure;
}

Statement::Statement(const Database& db, const char* sql) {
  if (sqlite3_prepare_v3(db.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK)
    throw std::runtime_error(fmt::format("sqlite prepare failed: {} ({})", sqlite3_errmsg(db.get()), sql));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

Statement& Statement::bind(int i, std::string_view text, bool transient) {
  sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), transient ? SQLITE_TRANSIENT : SQLITE_STATIC);
  return *this;
}

Statement& Statement::bind_blob(int i, std::string_view bytes, bool transient) {
  sqlite3_bind_blob(stmt_, i, bytes.data(), static_cast<int>(bytes.size()), transient ? SQLITE_TRANSIENT : SQLITE_STATIC);
  return *this;
}

Statement& Statement::bind_null(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

int Statement::run() {
  const int rc = sqlite3_step(stmt_);
  reset();
  return rc;
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::column_text(int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, i))) : std::string();
}

}  // namespace sluice::sqlite
