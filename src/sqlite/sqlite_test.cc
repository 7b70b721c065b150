// Damage is never silent: a step that meets a corrupt page throws naming the
// file and marks the process unready; opening a damaged file is refused.
#include "sqlite/sqlite.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "core/health.h"

namespace sluice::sqlite {
namespace {

namespace fs = std::filesystem;

class SqliteDamage : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sluice-sqlite-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "t.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A table of 5,000 rows of 200 bytes: many pages.
  void fill(Database& db) {
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    Statement insert(db, "INSERT INTO t(v) VALUES (?1)");
    ASSERT_FALSE(db.transaction([&] {
      for (int i = 0; i < 5000; ++i)
        if (int rc = insert.bind(1, std::string(200, 'x')).run(); rc != SQLITE_DONE) return rc;
      return SQLITE_DONE;
    }));
  }
  void scribble(size_t at, size_t n) {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(at));
    std::mt19937 rng(7);
    for (size_t i = 0; i < n; ++i) f.put(static_cast<char>(rng()));
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(SqliteDamage, AStepOnACorruptPageThrowsNamingTheFileAndReportsAFault) {
  Database db(path_);
  fill(db);
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");  // the rows in the database file, not the WAL
  scribble(64 * 1024, 256 * 1024);
  sqlite3_db_release_memory(db.get());  // read the pages from disk again
  Statement all(db, "SELECT v FROM t ORDER BY id");
  try {
    while (all.step()) {
    }
    FAIL() << "read the damaged table to its end as if nothing were wrong";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
  }
  bool reported = false;
  for (const auto& f : core::faults()) reported = reported || f.starts_with(path_ + ": ");
  EXPECT_TRUE(reported) << "a damaged file makes /health/ready 503";
}

TEST_F(SqliteDamage, OpeningADamagedFileIsRefusedWithWhatToDo) {
  {
    Database db(path_);
    fill(db);
  }
  scribble(64 * 1024, 64 * 1024);
  try {
    Database again(path_);
    FAIL() << "opened a damaged database";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path_ + " is damaged"), std::string::npos) << what;
    EXPECT_NE(what.find("restore it from a backup"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace sluice::sqlite
