// The ledger store contract, run against every store (today: sqlite). A new
// store adds one line to kStores and must pass the same suite.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>

#include <filesystem>
#include <random>
#include <thread>

#include "core/clock.h"
#include "ledger/store.h"
#include "testing/run_awaitable.h"

namespace sluice::ledger {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct StoreKind {
  std::string name;
  std::function<std::shared_ptr<Store>(const std::string& dir)> open;
};

const std::vector<StoreKind> kStores = {
    {"sqlite", [](const std::string& dir) { return open_sqlite_store(dir); }},
};

class StoreTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sluice-ledger-test-" + std::to_string(::getpid()) + "-" + GetParam().name +
                                        "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::shared_ptr<Store> open() { return GetParam().open(dir_.string()); }

  template <class T>
  T run(boost::asio::awaitable<T> task) {
    return testing::run_awaitable(io_, std::move(task));
  }
  void ok(boost::asio::awaitable<core::Result<void>> task) {
    auto r = run(std::move(task));
    ASSERT_TRUE(r) << r.error().to_string();
  }
  AlertReport report(Store& s, const std::string& id) {
    auto r = run(s.report(id));
    EXPECT_TRUE(r && r->has_value()) << "no report for " << id;
    return r && *r ? **r : AlertReport{};
  }
  std::string report_json(Store& s, const std::string& id) { return boost::json::serialize(to_json(report(s, id), 0)); }

  boost::asio::io_context io_;
  fs::path dir_;
};

Send send(int n, int64_t at) {
  return {.alert_id = "al_1", .recipient = "+1555" + std::to_string(n), .sid = "SM" + std::to_string(n),
          .status = Status::queued, .at_ms = at};
}

TEST_P(StoreTest, ReopenedStoreReportsTheSameAndKeepsHeldCallbacks) {
  std::string before;
  {
    auto l = open();
    ok(l->create_alert({.id = "al_1", .created_ms = 1000, .recipients = 4, .body = "Fire drill", .from = "+1"}));
    ok(l->record_sends({send(1, 1000), send(2, 1100), send(3, 1200)}));
    ok(l->apply_statuses({{"SM1", "sent", "", 1300},
                          {"SM1", "delivered", "", 2500},
                          {"SM2", "failed", "30003", 1500},
                          {"SM2", "sent", "", 1400},  // late: history only
                          {"SM3", "delivered", "", 1900},
                          {"SM4", "delivered", "", 1950}}));  // before its send: held
    EXPECT_EQ(l->stats().held, 1u);
    before = report_json(*l, "al_1");
  }
  auto l = open();
  EXPECT_EQ(report_json(*l, "al_1"), before);
  EXPECT_EQ(l->stats().held, 1u);
  ok(l->record_sends({send(4, 1800)}));  // the held callback is reconciled now
  EXPECT_EQ(l->stats().held, 0u);
  auto r = report(*l, "al_1");
  EXPECT_EQ(r.by_status[static_cast<size_t>(Status::delivered)], 3);
  EXPECT_EQ(r.by_status[static_cast<size_t>(Status::failed)], 1);
  EXPECT_EQ(r.failures_by_code.at("30003"), 1);
  EXPECT_EQ(r.terminal, 4);
  EXPECT_DOUBLE_EQ(r.delivered_percent, 75.0);
  EXPECT_EQ(r.to_delivered.count, 3);
  EXPECT_EQ(r.to_delivered.p50_ms, 700);  // 1500, 700, 150 -> sorted 150, 700, 1500
  const std::string after = boost::json::serialize(to_json(r, 0));
  l.reset();
  EXPECT_EQ(report_json(*open(), "al_1"), after) << "once more from disk, after the reconcile";
}

TEST_P(StoreTest, ARemovedAlertIsGoneAndStaysGone) {
  auto s = open();
  ok(s->create_alert({.id = "al_1", .created_ms = 1000, .recipients = 2, .body = "hi", .from = ""}));
  ok(s->create_alert({.id = "al_2", .created_ms = 2000, .recipients = 1, .body = "ho", .from = ""}));
  ok(s->remove_alert("al_1"));
  auto all = run(s->reports());
  ASSERT_TRUE(all) << all.error().to_string();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().info.id, "al_2");
  s.reset();
  auto reopened = run(open()->reports());
  ASSERT_TRUE(reopened);
  ASSERT_EQ(reopened->size(), 1u) << "the removed alert came back after a restart";
  EXPECT_EQ(reopened->front().info.id, "al_2");
}

TEST_P(StoreTest, ARefusedSendIsAFailureWithItsCodeAndCompletesTheAlert) {
  {
    auto l = open();
    ok(l->create_alert({.id = "al_1", .created_ms = 1000, .recipients = 3, .body = "hi", .from = ""}));
    ok(l->record_sends({send(1, 1000)}));
    ok(l->record_sends({refused_send("al_1", "+15552", "20003", 1100), refused_send("al_1", "+15553", "unsent", 1200)}));
    ok(l->record_sends({refused_send("al_1", "+15552", "20003", 1300)}));  // a redelivery: counted once
    ok(l->apply_statuses({{"SM1", "delivered", "", 1500}}));
  }
  auto l = open();  // and the same from disk
  auto r = report(*l, "al_1");
  EXPECT_EQ(r.terminal, 3) << "every recipient has an outcome";
  EXPECT_EQ(r.messages, 3);
  EXPECT_EQ(r.refused, 2);
  EXPECT_EQ(r.recipients_sent, 3);
  EXPECT_EQ(r.by_status[static_cast<size_t>(Status::failed)], 2);
  EXPECT_EQ(r.failures_by_code, (std::map<std::string, int64_t>{{"20003", 1}, {"unsent", 1}}));
  EXPECT_EQ(r.to_sent.count, 1) << "a refusal is not a send: no time to sent";
  EXPECT_EQ(r.sends_per_second.size(), 1u);
  auto claims = run(l->claim_sends({{"al_1", "+15552"}}, "me", 1min));
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->front().claim, Claim::already_sent) << "a refused recipient is not sent again";
}

TEST_P(StoreTest, ASidReissuedToAnotherRecipientCorruptsNeitherAlert) {
  {
    auto l = open();
    ok(l->record_sends({send(1, 1000)}));
    ok(l->apply_statuses({{"SM1", "delivered", "", 1200}}));
    Send reissued{.alert_id = "al_2", .recipient = "+15559", .sid = "SM1", .status = Status::queued, .at_ms = 2000};
    ok(l->record_sends({reissued}));
    ok(l->record_sends({reissued}));  // a retried batch: still one
    EXPECT_EQ(l->stats().counted.sid_conflicts, 1u);
    EXPECT_EQ(l->stats().counted.sends_duplicate, 1u);
  }
  auto l = open();
  auto first = report(*l, "al_1");
  EXPECT_EQ(first.messages, 1);
  EXPECT_EQ(first.by_status[static_cast<size_t>(Status::delivered)], 1);
  auto second = report(*l, "al_2");
  EXPECT_EQ(second.messages, 1) << "the second send is kept, apart";
  EXPECT_EQ(second.recipients_sent, 1);
  EXPECT_EQ(second.by_status[static_cast<size_t>(Status::queued)], 1);
}

TEST_P(StoreTest, OverdueMessagesComeOldestFirstAndUnknownGivesWayToTheTruth) {
  auto l = open();
  ok(l->record_sends({send(1, 1000), send(2, 2000), send(3, 3000)}));
  ok(l->record_sends({refused_send("al_1", "+15554", "20003", 500)}));  // final: never overdue
  ok(l->apply_statuses({{"SM2", "delivered", "", 2500}}));
  auto sids = [&](int64_t before, OverdueCursor after, size_t limit) {
    auto r = run(l->overdue(before, std::move(after), limit));
    EXPECT_TRUE(r) << r.error().to_string();
    std::vector<std::string> out;
    for (const auto& m : *r) out.push_back(m.sid);
    return out;
  };
  EXPECT_FALSE(report(*l, "al_1").reconciling);
  EXPECT_EQ(sids(2500, {}, 10), std::vector<std::string>{"SM1"});
  EXPECT_TRUE(report(*l, "al_1").reconciling) << "its overdue messages are being looked up";
  EXPECT_EQ(sids(9000, {}, 1), std::vector<std::string>{"SM1"});
  EXPECT_EQ(sids(9000, {.send_ms = 1000, .sid = "SM1"}, 10), std::vector<std::string>{"SM3"});
  EXPECT_TRUE(sids(9000, {.send_ms = 3000, .sid = "SM3"}, 10).empty());

  ok(l->apply_statuses({{"SM1", "unknown", "", 9000}, {"SM3", "unknown", "", 9000}}));
  auto r = report(*l, "al_1");
  EXPECT_EQ(r.terminal, 4) << "unknown is final: the alert completes";
  EXPECT_EQ(r.by_status[static_cast<size_t>(Status::unknown)], 2);
  EXPECT_TRUE(sids(99000, {}, 10).empty());
  ok(l->apply_statuses({{"SM1", "delivered", "", 9500}}));  // the truth, late
  ok(l->apply_statuses({{"SM1", "failed", "30003", 9600}, {"SM3", "unknown", "", 9700}}));  // no further
  r = report(*l, "al_1");
  EXPECT_EQ(r.by_status[static_cast<size_t>(Status::unknown)], 1);
  EXPECT_EQ(r.by_status[static_cast<size_t>(Status::delivered)], 2);
  EXPECT_EQ(r.terminal, 4);
}

TEST_P(StoreTest, TheDrillDownPagesAnAlertsMessagesByStatusInSendOrder) {
  auto l = open();
  ok(l->record_sends({send(3, 3000), send(1, 1000), send(2, 2000), send(4, 4000)}));
  ok(l->record_sends({{.alert_id = "al_2", .recipient = "+1", .sid = "SMx", .status = Status::queued, .at_ms = 1}}));
  ok(l->apply_statuses({{"SM2", "failed", "30008", 2500}, {"SM4", "undelivered", "30003", 4500}}));
  auto page = [&](std::vector<Status> statuses, size_t offset, size_t limit) {
    auto r = run(l->recipients("al_1", std::move(statuses), offset, limit));
    EXPECT_TRUE(r) << r.error().to_string();
    std::vector<std::string> out;
    for (const auto& m : r->messages) out.push_back(m.recipient + "/" + m.error_code);
    return std::pair{r->total, out};
  };
  EXPECT_EQ(page({}, 0, 10), (std::pair<size_t, std::vector<std::string>>{4, {"+15551/", "+15552/30008", "+15553/", "+15554/30003"}}));
  EXPECT_EQ(page({}, 1, 2), (std::pair<size_t, std::vector<std::string>>{4, {"+15552/30008", "+15553/"}}));
  EXPECT_EQ(page({Status::failed, Status::undelivered}, 0, 10),
            (std::pair<size_t, std::vector<std::string>>{2, {"+15552/30008", "+15554/30003"}}));
  EXPECT_EQ(page({Status::delivered}, 0, 10).first, 0u);
  EXPECT_TRUE(run(l->recipients("al_1", {}, 0, 10))->alert_found);
  EXPECT_FALSE(run(l->recipients("al_nope", {}, 0, 10))->alert_found) << "an unknown alert, not an empty one";
  EXPECT_EQ(run(open()->recipients("al_1", {}, 0, 10))->total, 4u) << "the same from disk";
}

TEST_P(StoreTest, RecordingTwiceIsIdempotent) {
  auto l = open();
  ok(l->record_sends({send(1, 1000)}));
  ok(l->apply_statuses({{"SM1", "delivered", "", 1200}}));
  ok(l->record_sends({send(1, 1000)}));                      // a retried batch
  ok(l->apply_statuses({{"SM1", "delivered", "", 1200}}));  // a retried callback
  auto r = report(*l, "al_1");
  EXPECT_EQ(r.messages, 1);
  EXPECT_EQ(r.by_status[static_cast<size_t>(Status::delivered)], 1);
  EXPECT_EQ(l->stats().counted.duplicates_ignored, 1u);
  EXPECT_EQ(l->stats().counted.sends_duplicate, 1u);
}

// The claims alone, without attempt times.
std::vector<Claim> claims_of(const core::Result<std::vector<ClaimAnswer>>& answers) {
  std::vector<Claim> out;
  if (answers)
    for (const auto& a : *answers) out.push_back(a.claim);
  return out;
}

TEST_P(StoreTest, AClaimIsGrantedToOneSenderUntilTheSendIsRecorded) {
  auto l = open();
  const std::vector<Recipient> r = {{"al_1", "+15551"}, {"al_1", "+15552"}};
  EXPECT_EQ(claims_of(run(l->claim_sends(r, "instance-a", 60s))), (std::vector<Claim>{Claim::granted, Claim::granted}));
  EXPECT_EQ(claims_of(run(l->claim_sends(r, "instance-b", 60s))),
            (std::vector<Claim>{Claim::claimed_elsewhere, Claim::claimed_elsewhere}));
  EXPECT_EQ(claims_of(run(l->claim_sends(r, "instance-a", 60s))), (std::vector<Claim>{Claim::granted, Claim::granted}))
      << "a redelivery to the same sender";
  ok(l->record_sends({send(1, 1000)}));
  EXPECT_EQ(claims_of(run(l->claim_sends(r, "instance-b", 60s))),
            (std::vector<Claim>{Claim::already_sent, Claim::claimed_elsewhere}));
}

TEST_P(StoreTest, AClaimWhoseLeaseRanOutIsGrantedToAnother) {
  auto l = open();
  const std::vector<Recipient> r = {{"al_1", "+15551"}};
  EXPECT_EQ(claims_of(run(l->claim_sends(r, "dead-sender", 1ms))), std::vector<Claim>{Claim::granted});
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(claims_of(run(l->claim_sends(r, "instance-b", 60s))), std::vector<Claim>{Claim::granted});
}

// A sender that died between claiming and recording (the provider may have
// accepted the message): the next one is told to look it up first, with the
// time of the attempt, until a send is recorded.
TEST_P(StoreTest, AClaimLeftUnsettledByADeadSenderComesBackAsMaybeSent) {
  const std::vector<Recipient> r = {{"al_1", "+15551"}, {"al_1", "+15552"}, {"al_1", "+15553"}};
  const int64_t before = core::unix_ms();
  {
    auto l = open();
    EXPECT_EQ(claims_of(run(l->claim_sends({r[0], r[1]}, "crashed", 60s))),
              (std::vector<Claim>{Claim::granted, Claim::granted}));
    ok(l->record_sends({send(1, 1000)}));  // +15551 settled; +15552 never recorded
  }
  auto l = open();
  auto answers = run(l->claim_sends(r, "next", 60s));
  ASSERT_TRUE(answers);
  EXPECT_EQ(claims_of(answers), (std::vector<Claim>{Claim::already_sent, Claim::maybe_sent, Claim::granted}));
  EXPECT_GE((*answers)[1].attempted_ms, before);
  EXPECT_LE((*answers)[1].attempted_ms, core::unix_ms());
  EXPECT_EQ(claims_of(run(l->claim_sends({r[1]}, "next", 60s))), std::vector<Claim>{Claim::maybe_sent})
      << "still to be looked up on a redelivery";
  Send found = send(2, 2000);
  ok(l->record_sends({found}));
  EXPECT_EQ(claims_of(run(l->claim_sends({r[1]}, "next", 60s))), std::vector<Claim>{Claim::already_sent});
  EXPECT_EQ(claims_of(run(open()->claim_sends({r[2]}, "third", 60s))), std::vector<Claim>{Claim::maybe_sent})
      << "+15553 was claimed by 'next' and never recorded";
}

TEST_P(StoreTest, AttemptsAndTheResendQueueSurviveAReopen) {
  const ResendPolicy policy{.codes = {"30003"}, .after_ms = 0, .max_attempts = 1, .window_ms = 3'600'000};
  const int64_t t0 = core::unix_ms();
  {
    auto l = open();
    ok(l->create_alert({.id = "al_1", .created_ms = t0, .recipients = 3, .body = "Boil water", .resend = policy}));
    ok(l->record_sends({send(1, t0), send(2, t0), send(3, t0)}));
    ok(l->apply_statuses({{"SM1", "undelivered", "30003", t0 + 10}, {"SM2", "undelivered", "30003", t0 + 10},
                          {"SM3", "delivered", "", t0 + 10}}));
    auto due = run(l->take_resends(t0 + 20, 60s, 1));
    ASSERT_TRUE(due && due->size() == 1u);
    Send again = send(1, t0 + 30);
    again.sid = "SM1b";
    again.attempt = (*due)[0].attempt;
    EXPECT_EQ(claims_of(run(l->claim_sends({{"al_1", again.recipient, 2}}, "me", 60s))),
              std::vector<Claim>{Claim::granted})
        << "the first attempt is recorded, the second is not";
    ok(l->record_sends({again}));
    EXPECT_EQ(claims_of(run(l->claim_sends({{"al_1", again.recipient, 2}}, "me", 60s))),
              std::vector<Claim>{Claim::already_sent});
  }
  auto l = open();
  auto r = report(*l, "al_1");
  EXPECT_EQ(r.info.resend, policy);
  EXPECT_EQ(r.messages, 3);
  EXPECT_EQ(r.resent, 1);
  EXPECT_EQ(r.resends_waiting, 1) << "+15552 still waits for its resend";
  EXPECT_EQ(r.still_undelivered, 1) << "+15551's undelivered first attempt was superseded";
  auto due = run(l->take_resends(t0 + 40, 60s, 10));
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].recipient, "+15552");
  EXPECT_EQ((*due)[0].body, "Boil water");
}

// Random sends and callbacks (reordered, duplicated, early) in random
// batches: the store's report equals a Book fed the same events one by one
// (book_test.cc checks the Book against a brute-force recount), before and
// after reopening.
TEST_P(StoreTest, BatchedRandomTrafficMatchesTheBook) {
  std::mt19937_64 rng(11);
  const std::vector<std::string> statuses = {"queued", "sending", "sent", "delivered", "undelivered", "failed", "bogus"};
  struct Event {
    bool is_send;
    int message;
    std::string status, code;
    int64_t at;
  };
  std::vector<Event> events;
  for (int m = 0; m < 400; ++m) {
    events.push_back({true, m, "", "", 0});
    for (int c = 0, n = static_cast<int>(rng() % 5); c < n; ++c)
      events.push_back({false, m, statuses[rng() % statuses.size()], rng() % 2 ? "30003" : "30008", 0});
    if (rng() % 4 == 0) events.push_back(events.back());
  }
  std::shuffle(events.begin(), events.end(), rng);
  int64_t now = 1'000'000;
  for (auto& e : events) e.at = now += static_cast<int64_t>(rng() % 900);

  Book book;
  auto l = open();
  ok(l->create_alert({.id = "A", .created_ms = 1'000'000, .recipients = 400}));
  book.add_alert({.id = "A", .created_ms = 1'000'000, .recipients = 400});
  for (size_t i = 0; i < events.size();) {
    std::vector<Send> sends;
    std::vector<StatusEvent> callbacks;
    const bool send_batch = events[i].is_send;
    for (size_t n = 1 + rng() % 50; i < events.size() && n > 0 && events[i].is_send == send_batch; ++i, --n) {
      const auto& e = events[i];
      const std::string sid = "SM" + std::to_string(e.message);
      if (e.is_send) {
        Send s{.alert_id = "A", .recipient = "+" + std::to_string(e.message), .sid = sid, .at_ms = e.at};
        book.record_send(s);
        sends.push_back(s);
      } else {
        StatusEvent s{.sid = sid, .status = e.status, .error_code = e.code, .at_ms = e.at};
        book.apply(s);
        callbacks.push_back(s);
      }
    }
    if (!sends.empty()) ok(l->record_sends(std::move(sends)));
    if (!callbacks.empty()) ok(l->apply_statuses(std::move(callbacks)));
  }
  const std::string want = boost::json::serialize(to_json(make_report(*book.alert("A")), 0));
  EXPECT_EQ(report_json(*l, "A"), want);
  EXPECT_EQ(l->stats().held, book.held());
  l.reset();
  EXPECT_EQ(report_json(*open(), "A"), want) << "after reopening";
}

INSTANTIATE_TEST_SUITE_P(Every, StoreTest, ::testing::ValuesIn(kStores),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace sluice::ledger
