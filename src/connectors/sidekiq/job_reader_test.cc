#include "connectors/sidekiq/job_reader.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "connectors/sidekiq/job.h"

namespace sluice::connectors::sidekiq {
namespace {

namespace json = boost::json;

// What Ruby's Sidekiq::Client.push wrote for HardJob.perform_async("a", 1).
TEST(SidekiqJobReader, ReadsAJobRubyPushed) {
  auto job = read_job(R"({"retry":true,"queue":"default","class":"HardJob","args":["a",1],
    "jid":"b4a577edbccf1d805744efa9","created_at":1700000000.25,"enqueued_at":1700000000.26})");
  ASSERT_TRUE(job) << job.error().to_string();
  EXPECT_EQ(job->job_class, "HardJob");
  EXPECT_FALSE(job->active_job);
  EXPECT_EQ(job->jid, "b4a577edbccf1d805744efa9");
  EXPECT_EQ(job->queue, "default");
  EXPECT_EQ(job->args, (json::array{"a", 1}));
  EXPECT_TRUE(job->retry);
  EXPECT_FALSE(job->retry_limit);
  EXPECT_FALSE(job->retry_count);
  EXPECT_EQ(job->item.at("created_at").as_double(), 1700000000.25) << "the item is kept whole";
}

TEST(SidekiqJobReader, RetryOptionsAndCounts) {
  auto limited = read_job(R"({"class":"A","args":[],"retry":3,"retry_count":1})");
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->retry_limit, 3);
  EXPECT_EQ(limited->retry_count, 1);
  // Sidekiq's API (SortedEntry#retry) leaves -1 on a first failure retried by hand.
  auto by_hand = read_job(R"({"class":"A","args":[],"retry_count":-1})");
  ASSERT_TRUE(by_hand) << by_hand.error().to_string();
  EXPECT_EQ(by_hand->retry_count, -1);
  auto off = read_job(R"({"class":"A","args":[],"retry":false})");
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->retry);
}

TEST(SidekiqJobReader, UnwrapsActiveJob) {
  auto job = read_job(R"({"class":"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper","wrapped":"StatusCallbackJob",
    "queue":"callbacks","jid":"0123456789abcdef01234567","retry":true,
    "args":[{"job_class":"StatusCallbackJob","job_id":"6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f","provider_job_id":null,
      "queue_name":"callbacks","priority":null,"executions":0,"exception_executions":{},"locale":"en",
      "timezone":"UTC","enqueued_at":"2023-11-14T22:13:21.500Z",
      "arguments":["+447700900123",{"status":"delivered","_aj_symbol_keys":["status"]},
        {"_aj_serialized":"ActiveJob::Serializers::SymbolSerializer","value":"urgent"},
        {"_aj_serialized":"ActiveJob::Serializers::TimeWithZoneSerializer","value":"2023-11-14T22:13:21.500000000Z"},
        {"opts":{"x":1,"_aj_ruby2_keywords":["opts"]},"_aj_hash_with_indifferent_access":true}]}]})");
  ASSERT_TRUE(job) << job.error().to_string();
  EXPECT_TRUE(job->active_job);
  EXPECT_EQ(job->job_class, "StatusCallbackJob");
  EXPECT_EQ(job->active_job_id, "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f");
  EXPECT_EQ(job->jid, "0123456789abcdef01234567");
  EXPECT_EQ(job->args, json::parse(R"(["+447700900123",{"status":"delivered"},"urgent",
    "2023-11-14T22:13:21.500000000Z",{"opts":{"x":1}}])"));
}

TEST(SidekiqJobReader, ReadsWhatTheOutputWrites) {
  Job pushed;
  pushed.queue = "callbacks";
  pushed.args = json::array{"+447700900123", json::object{{"price", "0.0075"}}};
  pushed.jid = "0123456789abcdef01234567";
  pushed.active_job_id = "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f";
  for (bool active_job : {false, true}) {
    auto text = job_json({"StatusCallbackJob", active_job}, pushed, Format::v8, 1700000000);
    ASSERT_TRUE(text);
    auto read = read_job(*text);
    ASSERT_TRUE(read) << read.error().to_string();
    EXPECT_EQ(read->job_class, "StatusCallbackJob");
    EXPECT_EQ(read->active_job, active_job);
    EXPECT_EQ(read->args, pushed.args);
    EXPECT_EQ(read->jid, pushed.jid);
    EXPECT_EQ(read->queue, "callbacks");
  }
}

TEST(SidekiqJobReader, HostileAndMalformedJobsSayWhatIsWrong) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "not JSON"},
      {R"({"class":"A","args":[)", "not JSON"},
      {"[1,2]", "not a JSON object"},
      {R"({"args":[]})", "no `class`"},
      {R"({"class":"","args":[]})", "no `class`"},
      {R"({"class":7,"args":[]})", "no `class`"},
      {R"({"class":"A"})", "`args` is missing or not a list"},
      {R"({"class":"A","args":{"a":1}})", "`args` is missing or not a list"},
      {R"({"class":"A","args":[],"jid":5})", "`jid` is not a string"},
      {R"({"class":"A","args":[],"retry":"often"})", "`retry` must be true, false or a number"},
      {R"({"class":"A","args":[],"retry":-1})", "`retry` must be true, false or a number"},
      {R"({"class":"A","args":[],"retry_count":1.5})", "`retry_count` is 1.5E0, not a count"},
      {R"({"class":"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper","args":[]})", "not [the serialized job]"},
      {R"({"class":"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper","args":["x"]})", "not [the serialized job]"},
      {R"({"class":"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper","args":[{"arguments":[]}]})",
       "no `job_class`"},
      {R"({"class":"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper","args":[{"job_class":"J"}]})",
       "`arguments` is missing"},
      {R"({"class":"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper","args":[{"job_class":"J",
         "arguments":[{"_aj_globalid":"gid://app/User/1"}]}]})", "GlobalID"},
      {R"({"class":"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper","args":[{"job_class":"J",
         "arguments":[[{"_aj_serialized":"MoneySerializer","value":"1"}]]}]})", "MoneySerializer, which only the Rails app"},
      {R"({"class":"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper","args":[{"job_class":"J",
         "arguments":[{"_aj_serialized":"ActiveJob::Serializers::SymbolSerializer"}]}]})", "without its `value`"},
      {R"({"class":"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper","args":[{"job_class":"J",
         "arguments":[{"_aj_serialized":"ActiveJob::Serializers::SymbolSerializer",
                       "value":{"_aj_globalid":"gid://app/User/1"}}]}]})", "without its `value` (a string)"},
  };
  for (const auto& [text, expected] : cases) {
    auto job = read_job(text);
    ASSERT_FALSE(job) << text;
    EXPECT_TRUE(job.error().is(core::Errc::invalid_payload)) << text;
    EXPECT_NE(job.error().to_string().find(expected), std::string::npos) << text << " -> " << job.error().to_string();
  }
  // Nesting deeper than the JSON parser allows is refused, not recursed into.
  std::string deep(100000, '[');
  EXPECT_FALSE(read_job(R"({"class":"A","args":)" + deep));
}

}  // namespace
}  // namespace sluice::connectors::sidekiq
