// The SQS client against scripted answers: what it sends, and that every
// malformed, truncated, oversized or hostile answer is a clear error (and no
// message is delivered from one), while throttling and 5xx stay retryable.
#include "connectors/sqs/client.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "aws/credentials_provider.h"
#include "testing/fake_http.h"
#include "testing/run_awaitable.h"

namespace sluice::connectors::sqs {
namespace {

const std::string kUrl = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders";

class SqsClient : public ::testing::Test {
 protected:
  core::Result<std::vector<Received>> receive() {
    return testing::run_awaitable(io_, client_.receive(kUrl, ReceiveOptions{.wait = std::chrono::seconds(1)}));
  }
  core::Result<std::vector<EntryFailure>> remove(std::vector<Entry> e) {
    return testing::run_awaitable(io_, client_.delete_batch(kUrl, std::move(e)));
  }
  std::string message(const std::string& body, const std::string& md5) {
    return boost::json::serialize(boost::json::object{
        {"Messages", boost::json::array{boost::json::object{{"MessageId", "m1"},
                                                            {"ReceiptHandle", "r1"},
                                                            {"Body", body},
                                                            {"MD5OfBody", md5},
                                                            {"Attributes", {{"ApproximateReceiveCount", "3"}}},
                                                            {"MessageAttributes",
                                                             {{"tenant", {{"StringValue", "acme"}, {"DataType", "String"}}}}}}}}});
  }

  boost::asio::io_context io_;
  std::shared_ptr<testing::ScriptedHttp> http_ = std::make_shared<testing::ScriptedHttp>();
  Client client_{http_, {"https://sqs.eu-west-1.amazonaws.com", "eu-west-1",
                         aws::fixed_credentials({{"AKID", "secret", ""}, "test"})}};
};

TEST_F(SqsClient, SendsASignedJsonProtocolRequest) {
  http_->answer(200, message("héllo", md5_hex("héllo")));
  auto r = receive();
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].body, "héllo");
  EXPECT_EQ((*r)[0].attributes.at("ApproximateReceiveCount"), "3");
  EXPECT_EQ((*r)[0].message_attributes.at("tenant"), "acme");
  const auto req = http_->requests().at(0);
  EXPECT_EQ(req.url, "https://sqs.eu-west-1.amazonaws.com/");
  std::map<std::string, std::string> h(req.headers.begin(), req.headers.end());
  EXPECT_EQ(h["X-Amz-Target"], "AmazonSQS.ReceiveMessage");
  EXPECT_EQ(h["Content-Type"], "application/x-amz-json-1.0");
  EXPECT_EQ(h["Host"], "sqs.eu-west-1.amazonaws.com");
  EXPECT_TRUE(h["Authorization"].starts_with("AWS4-HMAC-SHA256 Credential=AKID/")) << h["Authorization"];
  EXPECT_NE(h["Authorization"].find("/eu-west-1/sqs/aws4_request"), std::string::npos);
  const auto body = boost::json::parse(req.body).as_object();
  EXPECT_EQ(body.at("QueueUrl").as_string(), kUrl);
  EXPECT_EQ(body.at("MaxNumberOfMessages").as_int64(), 10);
  EXPECT_EQ(body.at("WaitTimeSeconds").as_int64(), 1);
  EXPECT_GE(req.timeout, std::chrono::seconds(11)) << "the long poll needs its wait and more";
}

TEST_F(SqsClient, AnEmptyAnswerIsNoMessages) {
  http_->answer(200, "");  // local-aws-sqs answers an empty receive so
  auto r = receive();
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(r->empty());
}

TEST_F(SqsClient, ABodyWhoseMd5DoesNotMatchIsNotDelivered) {
  http_->answer(200, message("tampered", md5_hex("original")));
  auto r = receive();
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(r->empty());
}

TEST_F(SqsClient, MalformedTruncatedAndHostileAnswersAreClearErrors) {
  const std::string whole = message("x", md5_hex("x"));
  for (const std::string& answer : {
           std::string("<html>502 Bad Gateway</html>"),
           whole.substr(0, whole.size() / 2),  // truncated
           std::string(R"({"Messages": "not a list"})"),
           std::string(R"({"Messages": [42]})"),
           std::string(R"({"Messages": [{"MessageId": "m", "Body": "no receipt"}]})"),
           std::string("[1, 2, 3]"),
           std::string("\xff\xfe\x00garbage", 10),
       }) {
    http_->answer(200, answer);
    auto r = receive();
    ASSERT_FALSE(r) << "accepted: " << answer;
    EXPECT_TRUE(r.error().is(core::Errc::invalid_payload)) << r.error().to_string();
    EXPECT_NE(r.error().detail.find("ReceiveMessage"), std::string::npos) << r.error().detail;
    EXPECT_LT(r.error().detail.size(), 400u) << "an echo of the answer is cut";
  }
}

TEST_F(SqsClient, ThrottlingAnd5xxAreRetryableOtherRefusalsAreNot) {
  http_->answer(400, R"({"__type":"com.amazonaws.sqs#ThrottlingException","message":"Rate exceeded"})");
  http_->answer(503, "");
  http_->answer(400, R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."})");
  http_->answer(403, R"({"__type":"com.amazon.coral.service#InvalidSignatureException","message":"bad"})");
  auto throttled = receive(), unavailable = receive(), missing = receive(), denied = receive();
  EXPECT_TRUE(throttled.error().is(core::Errc::unavailable)) << throttled.error().to_string();
  EXPECT_TRUE(unavailable.error().is(core::Errc::unavailable)) << unavailable.error().to_string();
  EXPECT_TRUE(missing.error().is(core::Errc::io_error)) << missing.error().to_string();
  EXPECT_EQ(missing.error().detail,
            "SQS ReceiveMessage: QueueDoesNotExist: The specified queue does not exist. (HTTP 400)");
  EXPECT_TRUE(denied.error().is(core::Errc::io_error));
  EXPECT_NE(denied.error().detail.find("InvalidSignatureException"), std::string::npos);
}

TEST_F(SqsClient, BatchFailuresComeBackEntryByEntry) {
  http_->answer(200, R"({"Successful":[{"Id":"0"}],"Failed":[{"Id":"1","SenderFault":true,"Code":"ReceiptHandleIsInvalid","Message":"gone"},{"Id":"2","SenderFault":false,"Code":"InternalError","Message":""}]})");
  auto r = remove({{"0", "r0", {}, {}}, {"1", "r1", {}, {}}, {"2", "r2", {}, {}}});
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].id, "1");
  EXPECT_TRUE((*r)[0].sender_fault);
  EXPECT_EQ((*r)[0].code, "ReceiptHandleIsInvalid");
  EXPECT_FALSE((*r)[1].sender_fault);
  const auto sent = boost::json::parse(http_->requests().at(0).body).as_object();
  EXPECT_EQ(sent.at("Entries").as_array().size(), 3u);
  EXPECT_EQ(sent.at("Entries").as_array()[1].as_object().at("ReceiptHandle").as_string(), "r1");
}

TEST(SqsQueueUrl, NamesItsRegion) {
  EXPECT_EQ(region_of_queue_url("https://sqs.eu-west-1.amazonaws.com/1/q"), "eu-west-1");
  EXPECT_EQ(region_of_queue_url("https://sqs.cn-north-1.amazonaws.com.cn/1/q"), "cn-north-1");
  EXPECT_EQ(region_of_queue_url("https://us-west-2.queue.amazonaws.com/1/q"), "us-west-2");
  EXPECT_EQ(region_of_queue_url("http://127.0.0.1:4566/000000000000/q"), "");
  EXPECT_EQ(region_of_queue_url("not a url"), "");
}

}  // namespace
}  // namespace sluice::connectors::sqs
