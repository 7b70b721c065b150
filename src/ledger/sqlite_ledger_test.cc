#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <filesystem>

#include "ledger/ledger.h"

namespace sluice::ledger {
namespace {

namespace fs = std::filesystem;

class SqliteLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sluice-ledger-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

Send send(int n, int64_t at) {
  return {.alert_id = "al_1", .recipient = "+1555" + std::to_string(n), .sid = "SM" + std::to_string(n),
          .status = Status::queued, .at_ms = at};
}

TEST_F(SqliteLedgerTest, ReopenedLedgerReportsTheSameAndKeepsHeldCallbacks) {
  std::string before;
  {
    auto l = open_sqlite_ledger(dir_.string());
    ASSERT_TRUE(l->create_alert({.id = "al_1", .created_ms = 1000, .recipients = 4, .body = "Fire drill", .from = "+1"}));
    ASSERT_TRUE(l->record_sends({send(1, 1000), send(2, 1100), send(3, 1200)}));
    ASSERT_TRUE(l->apply_statuses({{"SM1", "sent", "", 1300},
                                   {"SM1", "delivered", "", 2500},
                                   {"SM2", "failed", "30003", 1500},
                                   {"SM2", "sent", "", 1400},  // late: history only
                                   {"SM3", "delivered", "", 1900},
                                   {"SM4", "delivered", "", 1950}}));  // before its send: held
    EXPECT_EQ(l->held(), 1u);
    EXPECT_TRUE(l->send_recorded("al_1", "+15552"));
    EXPECT_FALSE(l->send_recorded("al_1", "+15554"));
    before = boost::json::serialize(to_json(*l->report("al_1")));
  }
  auto l = open_sqlite_ledger(dir_.string());
  EXPECT_EQ(boost::json::serialize(to_json(*l->report("al_1"))), before);
  EXPECT_EQ(l->held(), 1u);
  EXPECT_TRUE(l->send_recorded("al_1", "+15552"));
  ASSERT_TRUE(l->record_sends({send(4, 1800)}));  // the held callback is reconciled now
  EXPECT_EQ(l->held(), 0u);
  auto r = *l->report("al_1");
  EXPECT_EQ(r.by_status[static_cast<size_t>(Status::delivered)], 3);
  EXPECT_EQ(r.by_status[static_cast<size_t>(Status::failed)], 1);
  EXPECT_EQ(r.failures_by_code.at("30003"), 1);
  EXPECT_EQ(r.terminal, 4);
  EXPECT_DOUBLE_EQ(r.delivered_percent, 75.0);
  EXPECT_EQ(r.to_delivered.count, 3);
  EXPECT_EQ(r.to_delivered.p50_ms, 700);  // 1500, 700, 150 -> sorted 150, 700, 1500
  // And once more from disk, after the reconcile.
  const std::string after = boost::json::serialize(to_json(r));
  l.reset();
  EXPECT_EQ(boost::json::serialize(to_json(*open_sqlite_ledger(dir_.string())->report("al_1"))), after);
}

TEST_F(SqliteLedgerTest, RecordingTwiceIsIdempotent) {
  auto l = open_sqlite_ledger(dir_.string());
  ASSERT_TRUE(l->record_sends({send(1, 1000)}));
  ASSERT_TRUE(l->apply_statuses({{"SM1", "delivered", "", 1200}}));
  ASSERT_TRUE(l->record_sends({send(1, 1000)}));                      // a retried batch
  ASSERT_TRUE(l->apply_statuses({{"SM1", "delivered", "", 1200}}));  // a retried callback
  auto r = *l->report("al_1");
  EXPECT_EQ(r.messages, 1);
  EXPECT_EQ(r.by_status[static_cast<size_t>(Status::delivered)], 1);
  EXPECT_EQ(l->counters().duplicates_ignored, 1u);
  EXPECT_EQ(l->counters().sends_duplicate, 1u);
}

}  // namespace
}  // namespace sluice::ledger
