#include "connectors/sidekiq/job.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <regex>
#include <set>

namespace sluice::connectors::sidekiq {
namespace {

namespace json = boost::json;

Job sample_job() {
  Job job;
  job.queue = "callbacks";
  job.args = json::array{"+447700900123", 3, json::object{{"status", "delivered"}}};
  job.jid = "0123456789abcdef01234567";
  job.active_job_id = "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f";
  job.created_at = 1700000000.25;
  return job;
}

json::object parsed(const core::Result<std::string>& text) {
  EXPECT_TRUE(text.has_value()) << text.error().to_string();
  return json::parse(*text).as_object();
}

TEST(SidekiqJob, PlainJobIsWhatSidekiqClientPushes) {
  auto j = parsed(job_json({"HardJob", false}, sample_job(), Format::v7, 1700000001.5));
  EXPECT_EQ(j.at("class"), "HardJob");
  EXPECT_EQ(j.at("queue"), "callbacks");
  EXPECT_EQ(j.at("jid"), "0123456789abcdef01234567");
  EXPECT_EQ(j.at("retry"), true);
  EXPECT_EQ(j.at("args"), (json::array{"+447700900123", 3, json::object{{"status", "delivered"}}}));
  EXPECT_DOUBLE_EQ(j.at("created_at").as_double(), 1700000000.25);
  EXPECT_DOUBLE_EQ(j.at("enqueued_at").as_double(), 1700000001.5);
  EXPECT_FALSE(j.contains("wrapped"));
}

// Sidekiq 8 reads integer milliseconds (and would misread float seconds as
// 1970); 6 and 7 read float seconds.
TEST(SidekiqJob, Version8WritesIntegerMilliseconds) {
  auto j = parsed(job_json({"HardJob", false}, sample_job(), Format::v8, 1700000001.5));
  EXPECT_EQ(j.at("created_at"), 1700000000250);
  EXPECT_EQ(j.at("enqueued_at"), 1700000001500);
  auto v6 = parsed(job_json({"HardJob", false}, sample_job(), Format::v6, 1700000001.5));
  EXPECT_TRUE(v6.at("created_at").is_double());
}

TEST(SidekiqJob, ScheduledJobHasNoEnqueuedAtUntilTheSchedulerMovesIt) {
  auto job = sample_job();
  job.at = 1700003600;
  auto j = parsed(job_json({"HardJob", false}, job, Format::v7, 1700000001.5));
  EXPECT_FALSE(j.contains("enqueued_at"));
  EXPECT_TRUE(j.contains("created_at"));
}

TEST(SidekiqJob, ActiveJobIsWrappedAsRailsAdapterWritesIt) {
  auto job = sample_job();
  job.retry = 3;
  auto j = parsed(job_json({"StatusCallbackJob", true}, job, Format::v7, 1700000001.5));
  EXPECT_EQ(j.at("class"), "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper");
  EXPECT_EQ(j.at("wrapped"), "StatusCallbackJob");
  EXPECT_EQ(j.at("retry"), 3);
  ASSERT_EQ(j.at("args").as_array().size(), 1u);
  const auto& aj = j.at("args").as_array()[0].as_object();
  EXPECT_EQ(aj.at("job_class"), "StatusCallbackJob");
  EXPECT_EQ(aj.at("job_id"), "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f");
  EXPECT_EQ(aj.at("queue_name"), "callbacks");
  EXPECT_TRUE(aj.at("provider_job_id").is_null());
  EXPECT_EQ(aj.at("executions"), 0);
  EXPECT_EQ(aj.at("enqueued_at"), "2023-11-14T22:13:21.500Z");
  EXPECT_FALSE(aj.contains("scheduled_at"));
  // Hashes are marked as ActiveJob marks a hash with string keys.
  EXPECT_EQ(aj.at("arguments"),
            (json::array{"+447700900123", 3,
                         json::object{{"status", "delivered"}, {"_aj_symbol_keys", json::array()}}}));
}

TEST(SidekiqJob, ScheduledActiveJobCarriesScheduledAt) {
  auto job = sample_job();
  job.at = 1700003600.0;
  auto j = parsed(job_json({"StatusCallbackJob", true}, job, Format::v7, 1700000001.5));
  EXPECT_EQ(j.at("args").as_array()[0].as_object().at("scheduled_at"), "2023-11-14T23:13:20.000Z");
}

TEST(SidekiqJob, ActiveJobArgumentsMarkNestedHashesAndRefuseReservedKeys) {
  auto nested = active_job_argument(json::parse(R"([{"a":{"b":1}},[{"c":2}],"x",null])"));
  ASSERT_TRUE(nested) << nested.error().to_string();
  EXPECT_EQ(*nested, json::parse(R"([{"a":{"b":1,"_aj_symbol_keys":[]},"_aj_symbol_keys":[]},
                                     [{"c":2,"_aj_symbol_keys":[]}],"x",null])"));
  for (const char* hostile : {R"({"_aj_globalid":"gid://app/User/1"})", R"({"ok":{"_aj_serialized":"X"}})"}) {
    auto refused = active_job_argument(json::parse(hostile));
    ASSERT_FALSE(refused) << hostile;
    EXPECT_TRUE(refused.error().is(core::Errc::invalid_payload));
    EXPECT_NE(refused.error().to_string().find("reserved key"), std::string::npos) << refused.error().to_string();
  }
  auto job = sample_job();
  job.args = json::array{json::object{{"_aj_globalid", "gid://app/User/1"}}};
  EXPECT_FALSE(job_json({"StatusCallbackJob", true}, job, Format::v7, 1));
  EXPECT_TRUE(job_json({"HardJob", false}, job, Format::v7, 1)) << "a plain job passes hashes as they are";
}

TEST(SidekiqJob, KeysFollowRedisNamespace) {
  EXPECT_EQ(key("", "queue:default"), "queue:default");
  EXPECT_EQ(key("myapp", "queue:default"), "myapp:queue:default");
}

TEST(SidekiqJob, IdsHaveRubysShapes) {
  std::mt19937_64 rng(42);
  const std::regex jid("[0-9a-f]{24}");
  const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto j = new_jid(rng);
    auto u = new_uuid(rng);
    EXPECT_TRUE(std::regex_match(j, jid)) << j;
    EXPECT_TRUE(std::regex_match(u, uuid)) << u;
    seen.insert(j);
  }
  EXPECT_EQ(seen.size(), 200u);
}

}  // namespace
}  // namespace sluice::connectors::sidekiq
