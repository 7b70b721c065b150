// SigV4 against AWS's published test suite (aws-sig-v4-test-suite: secret
// wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 2015-08-30T12:36:00Z,
// us-east-1, service "service"), and against botocore's own signer run by
// Debian's python3-botocore on requests shaped like ours.
#include "aws/sigv4.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdio>
#include <fstream>
#include <string>

namespace sluice::aws {
namespace {

const Credentials kExample{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
const auto kExampleTime = std::chrono::system_clock::from_time_t(1440938160);  // 20150830T123600Z

std::string header(const SignedRequest& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

std::string signature_of(std::string method, std::string path, std::string query) {
  SignedRequest r{std::move(method), std::move(path), std::move(query), {{"Host", "example.amazonaws.com"}}, ""};
  sign(r, kExample, "us-east-1", "service", kExampleTime);
  EXPECT_EQ(header(r, "X-Amz-Date"), "20150830T123600Z");
  const std::string auth = header(r, "Authorization");
  EXPECT_TRUE(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                               "SignedHeaders=host;x-amz-date, Signature="))
      << auth;
  return auth.substr(auth.rfind('=') + 1);
}

TEST(SigV4, MatchesAwsTestSuite) {
  // get-vanilla, get-vanilla-query-order-key-case, post-vanilla, get-utf8.
  EXPECT_EQ(signature_of("GET", "/", ""), "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(signature_of("GET", "/", "Param2=value2&Param1=value1"),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
  EXPECT_EQ(signature_of("POST", "/", ""), "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
  EXPECT_EQ(signature_of("GET", "/%E1%88%B4", ""), "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
}

TEST(SigV4, CanonicalFormsFollowTheRules) {
  EXPECT_EQ(sigv4::uri_encode("a b+c/~é", false), "a%20b%2Bc%2F~%C3%A9");
  EXPECT_EQ(sigv4::uri_encode("/a b/", true), "/a%20b/");
  // Decoded, re-encoded the AWS way, sorted by name then value; a bare
  // name has an empty value.
  EXPECT_EQ(sigv4::canonical_query("b=2&a=%7e&a=1&c&d=x y"), "a=1&a=~&b=2&c=&d=x%20y");
  SignedRequest r{"POST", "/", "", {{"X-B", "  two   spaces  "}, {"x-a", "1"}, {"X-A", "2"}}, "{}"};
  const auto [canonical, signed_headers] = sigv4::canonical_request(r);
  EXPECT_EQ(signed_headers, "x-a;x-b");
  EXPECT_EQ(canonical, "POST\n/\n\nx-a:1,2\nx-b:two spaces\n\nx-a;x-b\n" + sigv4::hex_sha256("{}"));
}

TEST(SigV4, TemporaryCredentialsSignTheSessionToken) {
  SignedRequest r{"POST", "/", "", {{"Host", "sqs.eu-west-1.amazonaws.com"}}, "{}"};
  sign(r, {"ASIAEXAMPLE", "secret", "token/with+odd=chars"}, "eu-west-1", "sqs", kExampleTime);
  EXPECT_EQ(header(r, "X-Amz-Security-Token"), "token/with+odd=chars");
  EXPECT_NE(header(r, "Authorization").find("SignedHeaders=host;x-amz-date;x-amz-security-token,"), std::string::npos);
}

TEST(SigV4, ASignerKeepsTheDaysKeyAndSignsAsSignDoes) {
  const Signer signer(kExample, "us-east-1", "service");
  for (auto at : {kExampleTime, kExampleTime + std::chrono::hours(12), kExampleTime + std::chrono::hours(36)}) {
    SignedRequest a{"GET", "/", "a=1", {{"Host", "example.amazonaws.com"}}, ""}, b = a;
    sign(a, kExample, "us-east-1", "service", at);
    signer.sign(b, at);
    EXPECT_EQ(header(a, "Authorization"), header(b, "Authorization"));
  }
}

// botocore's SigV4Auth signs each request at the same fixed time; it
// prints one Authorization per line.
constexpr const char* kBotocore = R"(
import datetime, json, sys
import botocore.auth, botocore.awsrequest, botocore.credentials

class Fixed(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return cls(2015, 8, 30, 12, 36, 0)
botocore.auth.datetime.datetime = Fixed

for line in sys.stdin:
    c = json.loads(line)
    creds = botocore.credentials.Credentials(c["key"], c["secret"], c["token"] or None)
    req = botocore.awsrequest.AWSRequest(method=c["method"], url=c["url"], data=c["body"].encode(), headers=c["headers"])
    botocore.auth.SigV4Auth(creds, c["service"], c["region"]).add_auth(req)
    print(req.headers["Authorization"])
)";

TEST(SigV4, AgreesWithBotocore) {
  const std::string script = ::testing::TempDir() + "sluice_botocore_sign.py";
  std::ofstream(script) << kBotocore;
  struct Case {
    SignedRequest req;
    Credentials creds;
    std::string region, service;
  };
  std::vector<Case> cases = {
      {{"POST", "/", "",
        {{"Host", "sqs.us-east-1.amazonaws.com"},
         {"Content-Type", "application/x-amz-json-1.0"},
         {"X-Amz-Target", "AmazonSQS.ReceiveMessage"}},
        R"({"QueueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/orders","MaxNumberOfMessages":10,"WaitTimeSeconds":20})"},
       {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""}, "us-east-1", "sqs"},
      {{"POST", "/", "",
        {{"Host", "127.0.0.1:4566"},
         {"Content-Type", "application/x-amz-json-1.0"},
         {"X-Amz-Target", "AmazonSQS.SendMessageBatch"}},
        R"({"Entries":[{"Id":"0","MessageBody":"h\u00e9llo  world"}]})"},
       {"ASIAEXAMPLE", "s3cr3t+/=", "FwoGZXIvYXdzEJr//////////wEaDOpQ+token=="}, "eu-west-1", "sqs"},
      {{"GET", "/", "Action=GetQueueUrl&QueueName=my%20queue&Version=2012-11-05", {{"Host", "sqs.ap-south-1.amazonaws.com"}},
        ""},
       {"AKID", "secret", ""}, "ap-south-1", "sqs"},
  };
  std::string input;
  for (const auto& c : cases) {
    boost::json::object headers;
    for (const auto& [k, v] : c.req.headers) headers[k] = v;
    const std::string host = c.req.headers.front().second;
    boost::json::object line{{"method", c.req.method},
                             {"url", "https://" + host + c.req.path + (c.req.query.empty() ? "" : "?" + c.req.query)},
                             {"headers", headers},
                             {"body", c.req.body},
                             {"key", c.creds.access_key_id},
                             {"secret", c.creds.secret_access_key},
                             {"token", c.creds.session_token},
                             {"region", c.region},
                             {"service", c.service}};
    input += boost::json::serialize(line) + "\n";
  }
  const std::string in_file = ::testing::TempDir() + "sluice_botocore_in.jsonl";
  std::ofstream(in_file) << input;
  FILE* p = popen(("/usr/bin/python3 " + script + " < " + in_file + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << "botocore (Debian's python3-botocore) could not sign:\n" << out;
  size_t at = 0;
  for (auto& c : cases) {
    const size_t end = out.find('\n', at);
    ASSERT_NE(end, std::string::npos) << out;
    const std::string theirs = out.substr(at, end - at);
    at = end + 1;
    sign(c.req, c.creds, c.region, c.service, kExampleTime);
    EXPECT_EQ(header(c.req, "Authorization"), theirs) << c.req.method << " " << c.req.query << " " << c.req.body;
  }
}

}  // namespace
}  // namespace sluice::aws
