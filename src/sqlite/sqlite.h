#pragma once
// Thin RAII over the SQLite C API, shared by the embedded queue and the
// ledger: a database opened in WAL mode with synchronous=FULL, prepared
// statements, and all-or-nothing transactions (Database::transaction).
//
// Threads: like SQLite opened with NOMUTEX, one thread at a time per
// Database (its owner serialises).

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace sluice::sqlite {

// Why a transaction did not commit.
struct Failure {
  std::string text;
  bool disk_full = false;  // SQLITE_FULL: worth retrying once there is space
};

// The failure as the stores report it: storage_full (retry once there is
// space) or io_error, "<what>: <SQLite's text>".
inline std::unexpected<core::Error> fail(const Failure& f, std::string_view what) {
  return core::fail(f.disk_full ? core::Errc::storage_full : core::Errc::io_error,
                    std::string(what) + ": " + f.text);
}

class Database {
 public:
  // Opens or creates `path` (WAL, synchronous=FULL, busy_timeout 5 s);
  // throws std::runtime_error with the reason and what to do. It refuses a
  // database that fails SQLite's quick_check, a WAL whose header is
  // damaged, and a missing or empty database where one was created before
  // (`<path>-created` marks that), instead of starting empty.
  explicit Database(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  sqlite3* get() const { return db_; }
  const std::string& path() const { return path_; }
  // Runs SQL with no results; throws std::runtime_error on failure.
  void exec(const char* sql);
  // Runs SQL with no results; returns the error text, empty on success.
  std::string try_exec(const char* sql);
  std::string error() const { return sqlite3_errmsg(db_); }
  // Runs `body` between BEGIN IMMEDIATE and COMMIT, all or nothing. `body`
  // returns SQLITE_DONE, or the result code of the first statement that
  // failed, and runs no statement after it: on SQLITE_FULL SQLite has rolled
  // back already, and a later statement would commit on its own. Returns
  // why it did not commit (then it is rolled back), nullopt if it did.
  // After a full disk it checkpoints and truncates the WAL, freeing what
  // old page copies held.
  std::optional<Failure> transaction(const std::function<int()>& body);

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

class Statement {
 public:
  // Throws std::runtime_error when the SQL does not prepare.
  Statement(const Database& db, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt* get() { return stmt_; }

  // Binding by 1-based index; text and blobs are copied unless `transient` is false.
  Statement& bind(int i, int64_t v);
  Statement& bind(int i, std::string_view text, bool transient = true);
  Statement& bind_blob(int i, std::string_view bytes, bool transient = true);
  Statement& bind_null(int i);

  // Runs a statement that returns no rows and resets it; returns the sqlite
  // result code (SQLITE_DONE on success).
  int run();
  // Steps a query: true while there is a row, false when done; reset()
  // then. Any other result (a corrupt page, an I/O error) throws
  // std::runtime_error naming the file: never read as "no more rows".
  bool step();
  void reset();
  int64_t column_int(int i) { return sqlite3_column_int64(stmt_, i); }
  std::string column_text(int i);  // text or blob bytes, NULs kept

 private:
  const Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// A result code that means the file or its disk is damaged (corrupt, not a
// database, I/O error). The first one per file is logged and reported as a
// process fault (core/health.h: /health/ready answers 503).
bool is_damage(int rc);
void report_damage(const std::string& path, const std::string& what);

}  // namespace sluice::sqlite
