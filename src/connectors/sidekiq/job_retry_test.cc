#include "connectors/sidekiq/job_retry.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace sluice::connectors::sidekiq {
namespace {

namespace json = boost::json;

const Failure kBoom{"Sluice::DeliveryFailed", "boom"};
constexpr double kNow = 1700000000.5;

ReadJob job(const char* text) {
  auto j = read_job(text);
  EXPECT_TRUE(j) << j.error().to_string();
  return *j;
}

json::object payload(const Disposition& d) { return json::parse(d.payload).as_object(); }

TEST(SidekiqJobRetry, AFirstFailureIsRetriedAfterSidekiqsBackoffWithItsFields) {
  std::mt19937_64 rng(1);
  auto d = after_failure(job(R"({"class":"HardJob","args":[1],"jid":"j1","retry":true})"), kBoom, 25, Format::v7,
                         kNow, rng);
  ASSERT_EQ(d.where, Disposition::Where::retry);
  // count 0: 0**4 + 15 + rand(10) * 1, so 15..24 s.
  EXPECT_GE(d.score, kNow + 15);
  EXPECT_LE(d.score, kNow + 24);
  auto p = payload(d);
  EXPECT_EQ(p.at("retry_count").as_int64(), 0);
  EXPECT_EQ(p.at("failed_at").as_double(), kNow);
  EXPECT_FALSE(p.contains("retried_at"));
  EXPECT_EQ(p.at("error_class").as_string(), "Sluice::DeliveryFailed");
  EXPECT_EQ(p.at("error_message").as_string(), "boom");
  EXPECT_EQ(p.at("jid").as_string(), "j1") << "the job stays itself";
}

TEST(SidekiqJobRetry, LaterFailuresCountUpAndBackOffByTheFourthPower) {
  std::mt19937_64 rng(2);
  auto d = after_failure(job(R"({"class":"HardJob","args":[],"retry_count":4,"failed_at":1.0,"queue":"q"})"), kBoom,
                         25, Format::v7, kNow, rng);
  ASSERT_EQ(d.where, Disposition::Where::retry);
  EXPECT_EQ(d.retry_count, 5);
  // count 5: 625 + 15 + rand(10) * 6.
  EXPECT_GE(d.score, kNow + 640);
  EXPECT_LE(d.score, kNow + 640 + 54);
  auto p = payload(d);
  EXPECT_EQ(p.at("retried_at").as_double(), kNow);
  EXPECT_EQ(p.at("failed_at").as_double(), 1.0) << "the first failure's time stays";
}

TEST(SidekiqJobRetry, AFirstFailureRetriedByHandCountsFromZeroAgain) {
  // SortedEntry#retry took retry_count 0 down to -1; Sidekiq's next failure makes it 0.
  std::mt19937_64 rng(6);
  auto d = after_failure(job(R"({"class":"A","args":[],"retry_count":-1,"failed_at":1.0})"), kBoom, 25, Format::v7,
                         kNow, rng);
  EXPECT_EQ(d.where, Disposition::Where::retry);
  EXPECT_EQ(d.retry_count, 0);
  EXPECT_TRUE(payload(d).contains("retried_at"));
}

TEST(SidekiqJobRetry, SpentRetriesAreDeadAndRetryFalseIsDropped) {
  std::mt19937_64 rng(3);
  EXPECT_EQ(after_failure(job(R"({"class":"A","args":[],"retry":2,"retry_count":1})"), kBoom, 25, Format::v7, kNow, rng)
                .where,
            Disposition::Where::dead)
      << "retry: 2 allows retry_count 0 and 1";
  EXPECT_EQ(after_failure(job(R"({"class":"A","args":[],"retry":0})"), kBoom, 25, Format::v7, kNow, rng).where,
            Disposition::Where::dead)
      << "retry: 0 goes to the dead set at once, as in Ruby (0 is true there)";
  EXPECT_EQ(after_failure(job(R"({"class":"A","args":[],"retry_count":2})"), kBoom, 3, Format::v7, kNow, rng).where,
            Disposition::Where::dead)
      << "retry: true uses max_retries";
  EXPECT_EQ(after_failure(job(R"({"class":"A","args":[],"retry":false})"), kBoom, 25, Format::v7, kNow, rng).where,
            Disposition::Where::dropped);
  EXPECT_EQ(after_failure(job(R"({"class":"A","args":[],"retry":0,"dead":false})"), kBoom, 25, Format::v7, kNow, rng)
                .where,
            Disposition::Where::dropped);
}

TEST(SidekiqJobRetry, TheRetryRunsInRetryQueueOrTheQueueItCameFrom) {
  std::mt19937_64 rng(4);
  auto j = job(R"({"class":"A","args":[],"queue":"old"})");
  j.queue = "callbacks";
  EXPECT_EQ(payload(after_failure(j, kBoom, 25, Format::v7, kNow, rng)).at("queue").as_string(), "callbacks");
  auto r = job(R"({"class":"A","args":[],"queue":"q","retry_queue":"low"})");
  EXPECT_EQ(payload(after_failure(r, kBoom, 25, Format::v7, kNow, rng)).at("queue").as_string(), "low");
}

TEST(SidekiqJobRetry, Sidekiq8TimesAreIntegerMillisecondsAndLongMessagesAreCut) {
  std::mt19937_64 rng(5);
  const Failure long_one{"E", std::string(20'000, 'x')};
  auto p = payload(after_failure(job(R"({"class":"A","args":[]})"), long_one, 25, Format::v8, kNow, rng));
  EXPECT_EQ(p.at("failed_at").as_int64(), 1700000000500);
  EXPECT_EQ(p.at("error_message").as_string().size(), 10'000u);
}

TEST(SidekiqJobRetry, ARejectedJobIsDeadAtOnceWhateverItsRetries) {
  auto d = dead_now(job(R"({"class":"A","args":[],"retry":25})"), kBoom, Format::v7, kNow);
  EXPECT_EQ(d.where, Disposition::Where::dead);
  EXPECT_EQ(d.score, kNow);
  EXPECT_EQ(payload(d).at("error_class").as_string(), "Sluice::DeliveryFailed");
}

}  // namespace
}  // namespace sluice::connectors::sidekiq
