#include "ledger/book.h"
#include "ledger/report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace sluice::ledger {
namespace {

Histogram histogram(const std::vector<int64_t>& values) {
  Histogram h;
  for (int64_t v : values) h.record(v);
  return h;
}
Histogram one(int64_t ms) { return histogram({ms}); }

StatusEvent cb(const std::string& sid, const std::string& status, int64_t at, const std::string& code = "") {
  return {.sid = sid, .status = status, .error_code = code, .at_ms = at};
}
Send send(const std::string& sid, int64_t at, const std::string& to = "+1555") {
  return {.alert_id = "A", .recipient = to + sid, .sid = sid, .status = Status::queued, .at_ms = at};
}
int64_t count(const AlertStats& a, Status s) { return a.by_status[static_cast<size_t>(s)]; }

TEST(Book, MovesOnlyForwardAndTerminalStaysTerminal) {
  Book b;
  b.record_send(send("SM1", 1000));
  EXPECT_EQ(b.apply(cb("SM1", "sent", 1100)), Effect::moved);
  EXPECT_EQ(b.apply(cb("SM1", "delivered", 1500)), Effect::moved);
  EXPECT_EQ(b.apply(cb("SM1", "sent", 1600)), Effect::stale) << "a late sent after delivered";
  EXPECT_EQ(b.apply(cb("SM1", "failed", 1700, "30003")), Effect::stale) << "terminal stays terminal";
  EXPECT_EQ(b.apply(cb("SM1", "delivered", 1800)), Effect::duplicate);
  EXPECT_EQ(b.apply(cb("SM1", "read-ish", 1900)), Effect::unknown_status);
  const AlertStats& a = *b.alert("A");
  EXPECT_EQ(count(a, Status::delivered), 1);
  EXPECT_EQ(count(a, Status::sent), 0);
  EXPECT_EQ(a.to_sent_ms, one(100));
  EXPECT_EQ(a.to_delivered_ms, one(500));
  EXPECT_TRUE(a.failures_by_code.empty());
  EXPECT_EQ(a.last_activity_ms, 1500) << "the last move, not the ignored callbacks after it";
}

TEST(Book, OutOfOrderCallbacksLandOnTheFurthestStatus) {
  Book b;
  b.record_send(send("SM1", 1000));
  EXPECT_EQ(b.apply(cb("SM1", "undelivered", 1300, "30005")), Effect::moved);
  EXPECT_EQ(b.apply(cb("SM1", "sent", 1200)), Effect::stale);
  const AlertStats& a = *b.alert("A");
  EXPECT_EQ(count(a, Status::undelivered), 1);
  EXPECT_EQ(a.failures_by_code.at("30005"), 1);
  EXPECT_EQ(a.to_sent_ms, one(300)) << "known sent once it was undelivered";
}

TEST(Book, EarlyCallbacksAreHeldThenReconciledInArrivalOrder) {
  Book b;
  EXPECT_EQ(b.apply(cb("SM1", "sent", 900)), Effect::held);
  EXPECT_EQ(b.apply(cb("SM1", "delivered", 950)), Effect::held);
  EXPECT_EQ(b.held(), 2u);
  EXPECT_EQ(b.record_send(send("SM1", 1000)), SendEffect::recorded);
  EXPECT_EQ(b.held(), 0u);
  EXPECT_EQ(b.counters().early_reconciled, 2u);
  const AlertStats& a = *b.alert("A");
  EXPECT_EQ(count(a, Status::delivered), 1);
  EXPECT_EQ(count(a, Status::queued), 0);
  EXPECT_EQ(a.to_delivered_ms, one(0)) << "a callback older than its send counts as 0";
  EXPECT_EQ(b.record_send(send("SM1", 1000)), SendEffect::duplicate);
  EXPECT_EQ(a.messages, 1);
}

TEST(Book, RecipientsAreTrackedPerAlert) {
  Book b;
  b.add_alert({.id = "A", .created_ms = 1, .recipients = 2});
  b.record_send(send("SM1", 1000, "+1"));
  EXPECT_TRUE(b.send_recorded("A", "+1SM1"));
  EXPECT_FALSE(b.send_recorded("A", "+1SM2"));
  EXPECT_FALSE(b.send_recorded("B", "+1SM1"));
  EXPECT_EQ(b.alert("A")->info.recipients, 2);
}

// Resends: an alert whose policy resends 30003 twice within an hour.
AlertInfo resend_alert() {
  return {.id = "A", .created_ms = 0, .recipients = 2, .body = "Evacuate", .from = "+1",
          .resend = {.codes = {"30003"}, .after_ms = 1000, .max_attempts = 2, .window_ms = 3'600'000}};
}
Send attempt(const std::string& sid, const std::string& to, int64_t n, int64_t at) {
  return {.alert_id = "A", .recipient = to, .sid = sid, .status = Status::queued, .at_ms = at, .attempt = n};
}

TEST(BookResend, AListedFailureIsDueAfterItsDelayAndALaterAttemptSupersedesIt) {
  Book b;
  b.add_alert(resend_alert());
  b.record_send(attempt("SM1", "+1", 1, 100));
  b.record_send(attempt("SM2", "+2", 1, 100));
  b.apply(cb("SM1", "undelivered", 500, "30003"));
  b.apply(cb("SM2", "undelivered", 500, "30008"));  // not listed: final
  EXPECT_EQ(b.alert("A")->resends_waiting, 1);
  EXPECT_TRUE(b.take_resends(1499, 60'000, 10).empty()) << "due 1 s after the failure";
  auto due = b.take_resends(1500, 60'000, 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].recipient, "+1");
  EXPECT_EQ(due[0].attempt, 2);
  EXPECT_EQ(due[0].body, "Evacuate");
  EXPECT_EQ(due[0].validity_s, 3598);  // what is left of the hour at 1.5 s
  EXPECT_TRUE(b.take_resends(2000, 60'000, 10).empty()) << "handed out once per lease";
  EXPECT_FALSE(b.send_recorded("A", "+1", 2));

  b.record_send(attempt("SM3", "+1", 2, 2000));
  EXPECT_TRUE(b.send_recorded("A", "+1", 2));
  b.apply(cb("SM3", "delivered", 2500));
  const AlertStats& a = *b.alert("A");
  EXPECT_EQ(a.messages, 2) << "one current message per recipient";
  EXPECT_EQ(count(a, Status::delivered), 1);
  EXPECT_EQ(count(a, Status::undelivered), 1);
  EXPECT_EQ(a.failures_by_code, (std::map<std::string, int64_t>{{"30008", 1}})) << "the resent failure left the counts";
  EXPECT_EQ(a.resent, 1);
  EXPECT_EQ(a.delivered_after_resend, 1);
  EXPECT_EQ(a.resends_waiting, 0);
  EXPECT_EQ(a.recipients_sent, 2);
  EXPECT_TRUE(b.message("SM1")->superseded);
  EXPECT_EQ(b.take_resends(100'000, 60'000, 10).size(), 0u) << "a superseded failure is not resent";
  EXPECT_EQ(b.apply(cb("SM1", "failed", 2600, "30003")), Effect::stale);
  EXPECT_EQ(b.alert("A")->messages, 2);
}

TEST(BookResend, AttemptsStopAtTheMaximumAndTheWindow) {
  Book b;
  b.add_alert(resend_alert());
  b.record_send(attempt("SM1", "+1", 1, 0));
  b.apply(cb("SM1", "undelivered", 0, "30003"));
  b.record_send(attempt("SM2", "+1", 2, 2000));
  b.apply(cb("SM2", "undelivered", 2000, "30003"));
  b.record_send(attempt("SM3", "+1", 3, 4000));
  b.apply(cb("SM3", "undelivered", 4000, "30003"));
  EXPECT_EQ(b.alert("A")->resends_waiting, 0) << "two resends done: the third failure is final";
  EXPECT_EQ(b.alert("A")->resent, 2);

  b.record_send(attempt("SM4", "+2", 1, 0));
  b.apply(cb("SM4", "undelivered", 3'599'500, "30003"));
  EXPECT_TRUE(b.take_resends(3'600'500, 60'000, 10).empty()) << "due when the window has passed";
  EXPECT_EQ(b.alert("A")->resends_waiting, 0);
  b.apply(cb("SM4", "delivered", 3'700'000));
  EXPECT_EQ(b.alert("A")->late_callbacks, 1) << "timed after the window";
}

TEST(BookResend, AResendWhoseSendIsNotRecordedComesAgainAfterTheLease) {
  Book b;
  b.add_alert(resend_alert());
  b.record_send(attempt("SM1", "+1", 1, 0));
  b.apply(cb("SM1", "undelivered", 0, "30003"));
  ASSERT_EQ(b.take_resends(1000, 5000, 10).size(), 1u);
  EXPECT_TRUE(b.take_resends(5999, 5000, 10).empty());
  EXPECT_EQ(b.take_resends(6000, 5000, 10).size(), 1u) << "the queue write was lost: ordered again";
}

TEST(BookResend, RestoringAttemptsInAnyOrderCountsTheLatest) {
  Message first{.alert_id = "A", .recipient = "+1", .sid = "SM1", .status = Status::undelivered, .send_ms = 10,
                .final_ms = 20, .error_code = "30003"};
  Message second{.alert_id = "A", .recipient = "+1", .sid = "SM2", .status = Status::delivered, .send_ms = 10,
                 .final_ms = 30, .attempt = 2};
  for (bool second_first : {false, true}) {
    Book b;
    b.add_alert(resend_alert());
    if (second_first) {
      b.restore(second);
      b.restore(first);
    } else {
      b.restore(first);
      b.restore(second);
    }
    const AlertStats& a = *b.alert("A");
    EXPECT_EQ(a.messages, 1) << second_first;
    EXPECT_EQ(count(a, Status::delivered), 1) << second_first;
    EXPECT_EQ(count(a, Status::undelivered), 0) << second_first;
    EXPECT_EQ(a.resends_waiting, 0) << second_first;
    EXPECT_EQ(a.delivered_after_resend, 1) << second_first;
  }
}

TEST(AlertState, NamesWhatAnOperatorShouldKnowFirst) {
  AlertReport r;
  r.info = {.id = "A", .created_ms = 0, .recipients = 10, .resend = resend_alert().resend};
  r.last_activity_ms = 1000;
  r.messages = 4;
  EXPECT_EQ(alert_state(r, 2000), "sending");
  EXPECT_EQ(alert_state(r, 1000 + kStalledAfterMs), "stalled");
  r.messages = 10;
  EXPECT_EQ(alert_state(r, 2000), "waiting for statuses");
  r.reconciling = true;
  EXPECT_EQ(alert_state(r, 1000 + kStalledAfterMs), "reconciling") << "quiet between lookups is not stalled";
  r.terminal = 10;
  EXPECT_EQ(alert_state(r, 2000), "done");
  r.resends_waiting = 1;
  EXPECT_EQ(alert_state(r, 2000), "resending") << "a failure that will be sent again keeps it open";
  EXPECT_EQ(alert_state(r, 3'600'000), "done") << "the window has passed";
}

// What a message's final state must be, computed the slow obvious way:
// replay its callbacks in arrival order from the send's status.
struct Expected {
  Status status = Status::queued;
  int64_t sent_ms = -1, final_ms = -1;
  std::string code;
};

TEST(Book, AggregatesEqualABruteForceRecountOverRandomSequences) {
  std::mt19937_64 rng(20261123);
  const std::vector<std::string> statuses = {"accepted", "queued",  "sending",  "sent",    "delivered",
                                             "undelivered", "failed", "canceled", "bogus"};
  const std::vector<std::string> codes = {"", "30003", "30005", "30008"};
  for (int sequence = 0; sequence < 100'000; ++sequence) {
    const int n_messages = 1 + static_cast<int>(rng() % 4);
    struct Event {
      bool is_send;
      int message;
      std::string status, code;
    };
    std::vector<Event> events;
    for (int m = 0; m < n_messages; ++m) {
      events.push_back({true, m, "", ""});
      if (rng() % 8 == 0) events.push_back({true, m, "", ""});  // the same send recorded twice
      const int callbacks = static_cast<int>(rng() % 6);
      for (int c = 0; c < callbacks; ++c)
        events.push_back({false, m, statuses[rng() % statuses.size()], codes[rng() % codes.size()]});
      if (rng() % 4 == 0) events.push_back(events.back());  // a duplicate callback
    }
    std::shuffle(events.begin(), events.end(), rng);  // reordered: callbacks may beat their send

    Book book;
    std::vector<int64_t> send_ms(n_messages, -1);
    std::vector<std::vector<std::pair<std::string, std::pair<std::string, int64_t>>>> seen(n_messages);
    size_t callbacks = 0;
    int64_t now = 1'000'000;
    for (const auto& e : events) {
      now += static_cast<int64_t>(rng() % 1500);
      const std::string sid = "SM" + std::to_string(e.message);
      if (e.is_send) {
        if (send_ms[e.message] < 0) send_ms[e.message] = now;
        book.record_send({.alert_id = "A", .recipient = "+" + std::to_string(e.message), .sid = sid,
                          .status = Status::queued, .at_ms = now});
      } else {
        ++callbacks;
        seen[e.message].push_back({e.status, {e.code, now}});
        book.apply({.sid = sid, .status = e.status, .error_code = e.code, .at_ms = now});
      }
    }

    // Recount from scratch.
    std::array<int64_t, kStatusCount> by_status{};
    std::map<std::string, int64_t> failures;
    std::vector<int64_t> to_sent, to_delivered;
    for (int m = 0; m < n_messages; ++m) {
      Expected x;
      for (const auto& [status, rest] : seen[m]) {
        auto s = parse_status(status);
        if (!s || is_terminal(x.status) || rank(*s) <= rank(x.status)) continue;
        x.status = *s;
        if (rank(*s) >= rank(Status::sent) && x.sent_ms < 0) x.sent_ms = rest.second;
        if (is_terminal(*s)) {
          x.final_ms = rest.second;
          x.code = rest.first;
        }
      }
      ++by_status[static_cast<size_t>(x.status)];
      if (x.sent_ms >= 0) to_sent.push_back(std::max<int64_t>(0, x.sent_ms - send_ms[m]));
      if (x.status == Status::delivered) to_delivered.push_back(std::max<int64_t>(0, x.final_ms - send_ms[m]));
      if (x.status == Status::failed || x.status == Status::undelivered) ++failures[x.code.empty() ? "none" : x.code];
      const Message* got = book.message("SM" + std::to_string(m));
      ASSERT_NE(got, nullptr);
      ASSERT_EQ(got->status, x.status) << "sequence " << sequence << " message " << m;
    }
    const AlertStats& a = *book.alert("A");
    ASSERT_EQ(a.by_status, by_status) << "sequence " << sequence;
    ASSERT_EQ(a.messages, n_messages);
    ASSERT_EQ(a.recipients_sent, n_messages);
    ASSERT_EQ(a.failures_by_code, failures) << "sequence " << sequence;
    ASSERT_EQ(a.to_sent_ms, histogram(to_sent)) << "sequence " << sequence;
    ASSERT_EQ(a.to_delivered_ms, histogram(to_delivered)) << "sequence " << sequence;
    ASSERT_EQ(book.held(), 0u);
    // Every callback was counted once on arrival, and once more if it was held.
    const auto& c = book.counters();
    ASSERT_EQ(c.statuses_applied + c.duplicates_ignored + c.stale_ignored + c.unknown_ignored + c.early_held,
              callbacks + c.early_reconciled);
  }
}

}  // namespace
}  // namespace sluice::ledger
