#include "connectors/elasticsearch/bulk.h"

#include <gtest/gtest.h>

#include "connectors/elasticsearch/index_name.h"
#include "core/message.h"
#include "net/gzip.h"

namespace sluice::connectors::elasticsearch {
namespace {

using runtime::WriteOutcome;

TEST(BulkBody, ActionLineThenDocumentLine) {
  std::string body;
  append_operation(body, Action::index, {"logs", "", ""}, R"({"a":1})");
  append_operation(body, Action::create, {"logs", "7", "user\"1"}, R"({"b":2})");
  append_operation(body, Action::update, {"logs", "8", ""}, R"({"c":3})");
  EXPECT_EQ(body,
            "{\"index\":{\"_index\":\"logs\"}}\n{\"a\":1}\n"
            "{\"create\":{\"_index\":\"logs\",\"_id\":\"7\",\"routing\":\"user\\\"1\"}}\n{\"b\":2}\n"
            "{\"update\":{\"_index\":\"logs\",\"_id\":\"8\"}}\n{\"doc\":{\"c\":3},\"doc_as_upsert\":true}\n");
}

// The shapes of the four servers' answers: Elasticsearch 7 and OpenSearch 1
// with _type, 8 and OpenSearch 2 without.
TEST(BulkAnswer, ItemsOfEachFlavourAreRead) {
  const char* es7 = R"J({"took":3,"errors":true,"items":[
    {"index":{"_index":"t","_type":"_doc","_id":"1","_version":1,"result":"created","status":201}},
    {"create":{"_index":"t","_type":"_doc","_id":"2","status":409,"error":{"type":"version_conflict_engine_exception",
      "reason":"[2]: version conflict, document already exists (current version [1])","index":"t"}}}]})J";
  const char* es8 = R"({"errors":true,"took":3,"items":[
    {"index":{"_index":"t","_id":"1","_version":1,"result":"created","status":201}},
    {"index":{"_index":"t","_id":"2","status":400,"error":{"type":"mapper_parsing_exception",
      "reason":"failed to parse field [n] of type [long]","caused_by":{"type":"illegal_argument_exception",
      "reason":"For input string: \"x\""}}}}]})";
  for (const char* body : {es7, es8}) {
    auto items = parse_response(body, 2);
    ASSERT_TRUE(items) << items.error().to_string();
    EXPECT_EQ((*items)[0].status, 201);
    EXPECT_EQ((*items)[0].id, "1");
    EXPECT_EQ(outcome_of((*items)[0]).kind, WriteOutcome::Kind::ok);
    EXPECT_EQ(outcome_of((*items)[1]).kind, WriteOutcome::Kind::reject);
  }
  auto items = parse_response(es8, 2);
  EXPECT_NE(outcome_of((*items)[1]).reason.find("mapper_parsing_exception: failed to parse field [n] of type [long] "
                                                "(For input string: \"x\")"),
            std::string::npos)
      << outcome_of((*items)[1]).reason;
}

TEST(BulkAnswer, ItemStatusesDecideRetryOrReject) {
  auto outcome = [](int status) { return outcome_of({status, "1", status >= 300 ? "x" : "", "why"}); };
  EXPECT_EQ(outcome(200).kind, WriteOutcome::Kind::ok);
  EXPECT_EQ(outcome(429).kind, WriteOutcome::Kind::retry);
  EXPECT_TRUE(outcome(429).overloaded);
  EXPECT_EQ(outcome(503).kind, WriteOutcome::Kind::retry);
  EXPECT_EQ(outcome(500).kind, WriteOutcome::Kind::retry);
  EXPECT_EQ(outcome(400).kind, WriteOutcome::Kind::reject);
  EXPECT_EQ(outcome(404).kind, WriteOutcome::Kind::reject);
  EXPECT_EQ(outcome(409).kind, WriteOutcome::Kind::reject);
}

TEST(BulkAnswer, MalformedTruncatedAndMismatchedAnswersAreErrors) {
  for (const char* body : {"", "not json", R"({"took":1,"errors":false})", R"({"items":{}})",
                           R"({"items":[{"index":{"status":201}}, )", R"({"items":[{"index":{"status":"201"}}]})",
                           R"({"items":[{"index":{}, "create":{}}]})", R"({"items":[42]})", "[1,2]"}) {
    auto items = parse_response(body, 1);
    EXPECT_FALSE(items) << body;
    if (!items) {
      EXPECT_TRUE(items.error().is(core::Errc::invalid_payload));
    }
  }
  // Fewer items than operations: nothing can be matched.
  EXPECT_FALSE(parse_response(R"({"items":[{"index":{"status":201}}]})", 2));
}

TEST(BulkAnswer, WholeRequestErrorIsDescribed) {
  EXPECT_EQ(error_of(R"({"error":{"root_cause":[],"type":"illegal_argument_exception","reason":"bad"},"status":400})"),
            "illegal_argument_exception: bad");
  EXPECT_EQ(error_of("<html>proxy error</html>"), "<html>proxy error</html>");
}

Time at(int y, unsigned m, unsigned d, int h) {
  return Time(std::chrono::sys_days(std::chrono::year(y) / m / d)) + std::chrono::hours(h);
}

TEST(IndexName, DateSpecifiersExpandInUtc) {
  EXPECT_EQ(expand_date("logs-%Y.%m.%d", at(2026, 12, 2, 10)), "logs-2026.12.02");
  EXPECT_EQ(expand_date("h-%Y%m%d%H-%j-%%", at(2026, 3, 1, 7)), "h-2026030107-060-%");
  // ISO weeks: 2027-01-01 is a Friday, in week 53 of 2026.
  EXPECT_EQ(expand_date("w-%G-%V", at(2027, 1, 1, 0)), "w-2026-53");
  EXPECT_EQ(expand_date("w-%G-%V", at(2026, 12, 31, 0)), "w-2026-53");
  EXPECT_EQ(expand_date("w-%G-%V", at(2024, 12, 30, 0)), "w-2025-01");
  EXPECT_FALSE(has_date_pattern("plain"));
  EXPECT_FALSE(date_pattern_problem("logs-%Y.%m.%d"));
  EXPECT_TRUE(date_pattern_problem("logs-%s"));
  EXPECT_TRUE(date_pattern_problem("logs-%"));
}

TEST(IndexName, TimeOfAFieldOrMetadata) {
  core::Message m(R"({"ts":"2026-12-02T23:30:00-01:00","ms":1764633600000,"s":1764633600,"bad":"yesterday",)"
                  R"("frac":"2026-12-02T10:00:00.123456Z"})");
  m.meta().set("sent", "1764633600000");
  EXPECT_EQ(expand_date("%Y.%m.%d-%H", *time_of(m, "ts")), "2026.12.03-00");
  EXPECT_EQ(expand_date("%Y.%m.%d", *time_of(m, "ms")), "2025.12.02");
  EXPECT_EQ(time_of(m, "ms"), time_of(m, "s"));
  EXPECT_EQ(time_of(m, "meta.sent"), time_of(m, "s"));
  EXPECT_EQ(expand_date("%H", *time_of(m, "frac")), "10");
  EXPECT_FALSE(time_of(m, "bad"));
  EXPECT_FALSE(time_of(m, "absent"));
  EXPECT_FALSE(time_of(m, "meta.absent"));
  for (const char* hostile : {R"({"ts":"2026-02-30T00:00:00Z"})", R"({"ts":"2026-12-02T25:00:00Z"})",
                              R"({"ts":"2026-12-02T10:00:00Zjunk"})", R"({"ts":-5})", R"({"ts":1e300})",
                              R"({"ts":"2026-12-02"})"})
    EXPECT_FALSE(time_of(core::Message(hostile), "ts")) << hostile;
}

TEST(Gzip, RoundTrips) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "{\"index\":{\"_index\":\"logs\"}}\n{\"n\":" + std::to_string(i) + "}\n";
  const std::string packed = net::gzip(text);
  EXPECT_LT(packed.size(), text.size() / 4);
  EXPECT_EQ(net::gunzip(packed), text);
  EXPECT_EQ(net::gunzip(net::gzip("")), "");
  EXPECT_THROW(net::gunzip(packed.substr(0, packed.size() / 2)), std::runtime_error);
}

}  // namespace
}  // namespace sluice::connectors::elasticsearch
