#include "sqlite/sqlite.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "core/health.h"
#include "logging/log.h"

namespace sluice::sqlite {

namespace {

namespace fs = std::filesystem;

uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// A WAL starts with a 32-byte header: magic, version, page size, checkpoint
// sequence, two salts and a checksum of the first 24 bytes. SQLite ignores a
// WAL whose header does not check out, and with it every commit in it: so a
// damaged header would lose data silently. Empty or absent: fine.
std::optional<std::string> wal_header_damage(const std::string& wal) {
  std::error_code ec;
  if (!fs::exists(wal, ec) || fs::file_size(wal, ec) < 32) return std::nullopt;
  std::ifstream in(wal, std::ios::binary);
  unsigned char h[32];
  if (!in.read(reinterpret_cast<char*>(h), sizeof h)) return "cannot read its header";
  const uint32_t magic = be32(h);
  if (magic != 0x377f0682 && magic != 0x377f0683) return "its header is not a SQLite WAL header";
  const bool big_endian = magic & 1;
  auto word = [&](int at) {
    return big_endian ? be32(h + at)
                      : uint32_t{h[at]} | (uint32_t{h[at + 1]} << 8) | (uint32_t{h[at + 2]} << 16) |
                            (uint32_t{h[at + 3]} << 24);
  };
  uint32_t s0 = 0, s1 = 0;
  for (int at = 0; at < 24; at += 8) {
    s0 += word(at) + s1;
    s1 += word(at + 4) + s0;
  }
  if (s0 != be32(h + 24) || s1 != be32(h + 28)) return "its header checksum does not match";
  return std::nullopt;
}

}  // namespace

bool is_damage(int rc) {
  rc &= 0xff;
  return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB || rc == SQLITE_IOERR;
}

void report_damage(const std::string& path, const std::string& what) {
  if (core::report_fault(path, what))
    logging::error("{}: {}; /health/ready answers 503 until sluice restarts on a repaired file", path, what);
}

Database::Database(const std::string& path) : path_(path) {
  const std::string marker = path + "-created";
  std::error_code ec;
  if (fs::exists(marker, ec) && (!fs::exists(path, ec) || fs::file_size(path, ec) == 0))
    throw std::runtime_error(fmt::format(
        "{} is {}, but a database was created there before ({} says so): restore it from a backup, or delete {} "
        "to start with an empty one",
        path, fs::exists(path, ec) ? "empty" : "missing", marker, marker));
  if (auto damage = wal_header_damage(path + "-wal"))
    throw std::runtime_error(fmt::format(
        "{}-wal holds commits SQLite would ignore: {}. Restore the data directory from a backup, or move {}-wal "
        "away to start from the last checkpoint (losing what it held)",
        path, *damage, path));
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error(fmt::format("cannot open {}: {}", path, why));
  }
  // A damaged file (it fails quick_check, or SQLite calls it corrupt or not
  // a database) is named as such; any other failure (a lock held too long,
  // no permission) is not damage and says what SQLite said.
  bool damaged = false;
  try {
    // First: a connection closing elsewhere may hold a lock for a moment.
    exec("PRAGMA busy_timeout=5000");
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    // Checkpoint at 1 MB of WAL, not SQLite's 4 MB: many small commits (acks,
    // callbacks) fill a WAL with old page copies, and a small data_dir
    // would be full of them before the first checkpoint.
    exec("PRAGMA wal_autocheckpoint=256");
    Statement check(*this, "PRAGMA quick_check(1)");
    const std::string verdict = check.step() ? check.column_text(0) : "no answer";
    damaged = verdict != "ok";
    if (damaged) throw std::runtime_error("SQLite's quick_check says: " + verdict);
  } catch (const std::exception& e) {
    damaged = damaged || is_damage(sqlite3_errcode(db_));
    sqlite3_close(db_);
    if (!damaged) throw std::runtime_error(fmt::format("cannot open {}: {}", path, e.what()));
    throw std::runtime_error(fmt::format(
        "{} is damaged ({}): restore it from a backup, or move it (and {}-wal) away to start with an empty one",
        path, e.what(), path));
  }
  if (!fs::exists(marker, ec)) std::ofstream(marker) << "sluice created " << path << "; see sqlite/sqlite.h\n";
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
  if (const int rc = body(); rc != SQLITE_DONE) {
    failure = Failure{error(), (rc & 0xff) == SQLITE_FULL};
    if (is_damage(rc)) report_damage(path_, failure->text);
  }
  else if (auto why = try_exec("COMMIT"); !why.empty())
    failure = Failure{std::move(why), full()};
  if (failure) try_exec("ROLLBACK");  // harmless when SQLite rolled back already
  // On a full disk, much of the space is often the WAL: old copies of pages
  // rewritten by many small commits. Folding it into the database and
  // truncating it gives that space back for the next try.
  if (failure && failure->disk_full) sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  return failure;
}

Statement::Statement(const Database& db, const char* sql) : db_(db) {
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
  if (is_damage(rc)) report_damage(db_.path(), db_.error());
  reset();
  return rc;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const std::string why = db_.error();
  if (is_damage(rc)) report_damage(db_.path(), why);
  reset();
  throw std::runtime_error(fmt::format("{}: {}", db_.path(), why));
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
