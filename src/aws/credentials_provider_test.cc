// The credentials chain's remote steps against scripted answers: what each
// sends (IMDSv2's session token, the container endpoint's authorization,
// STS's form), what each answer means, and when credentials are fetched
// again.
#include "aws/credentials_provider.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "net/form.h"
#include "testing/fake_http.h"
#include "testing/run_awaitable.h"

namespace sluice::aws {
namespace {

using Clock = std::chrono::system_clock;
namespace fs = std::filesystem;

std::string creds_json(const std::string& key, const std::string& expiration) {
  return R"({"Code":"Success","AccessKeyId":")" + key + R"(","SecretAccessKey":"s3cret","Token":"tok","Expiration":")" +
         expiration + R"("})";
}

class RemoteCredentials : public ::testing::Test {
 protected:
  Getenv env() {
    return [this](const std::string& k) -> std::optional<std::string> {
      auto it = env_.find(k);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
  }
  std::shared_ptr<CredentialsProvider> chain() {
    env_.emplace("HOME", "/nonexistent");
    auto c = credentials_chain({}, env(), http_, "eu-west-1");
    EXPECT_TRUE(c) << c.error().to_string();
    return c ? *c : nullptr;
  }
  core::Result<std::shared_ptr<const Credentials>> get(CredentialsProvider& p) {
    return testing::run_awaitable(io_, p.get());
  }
  std::map<std::string, std::string> headers(size_t i) {
    const auto r = http_->requests().at(i);
    return {r.headers.begin(), r.headers.end()};
  }

  boost::asio::io_context io_;
  std::shared_ptr<testing::ScriptedHttp> http_ = std::make_shared<testing::ScriptedHttp>();
  std::map<std::string, std::string> env_;
};

TEST_F(RemoteCredentials, ImdsV2TakesASessionTokenThenTheRoleThenItsCredentials) {
  env_["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:9/";
  http_->answer(200, "session-token");
  http_->answer(200, "my-role\n");
  http_->answer(200, creds_json("ASIAIMDS", "2099-01-01T00:00:00Z"));
  auto p = chain();
  EXPECT_NE(p->from().find("IMDSv2 at http://127.0.0.1:9/"), std::string::npos) << p->from();
  auto c = get(*p);
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ((*c)->access_key_id, "ASIAIMDS");
  EXPECT_EQ((*c)->session_token, "tok");
  const auto r = http_->requests();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].method, "PUT");
  EXPECT_EQ(r[0].url, "http://127.0.0.1:9/latest/api/token");
  EXPECT_EQ(headers(0)["X-aws-ec2-metadata-token-ttl-seconds"], "21600");
  EXPECT_EQ(r[1].url, "http://127.0.0.1:9/latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(headers(1)["X-aws-ec2-metadata-token"], "session-token");
  EXPECT_EQ(r[2].url, "http://127.0.0.1:9/latest/meta-data/iam/security-credentials/my-role");
  EXPECT_EQ(headers(2)["X-aws-ec2-metadata-token"], "session-token");
  EXPECT_EQ(r[0].timeout, std::chrono::seconds(1));
  // Valid until 2099: the next get() asks nothing.
  ASSERT_TRUE(get(*p));
  EXPECT_EQ(http_->requests().size(), 3u);
}

TEST_F(RemoteCredentials, OffEc2TheErrorSaysWhereItLooked) {
  http_->fail(core::Errc::timeout, "no connection within 1000 ms");
  auto p = chain();
  auto c = get(*p);
  ASSERT_FALSE(c);
  EXPECT_TRUE(c.error().is(core::Errc::unavailable));
  const std::string why = c.error().to_string();
  EXPECT_NE(why.find("http://169.254.169.254"), std::string::npos) << why;
  EXPECT_NE(why.find("not in the environment"), std::string::npos) << why;
  EXPECT_NE(why.find("no connection within 1000 ms"), std::string::npos) << why;
}

TEST_F(RemoteCredentials, ImdsCanBeDisabled) {
  env_["AWS_EC2_METADATA_DISABLED"] = "TRUE";
  env_["HOME"] = "/nonexistent";
  auto c = credentials_chain({}, env(), http_, "eu-west-1");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().detail.find("AWS_EC2_METADATA_DISABLED"), std::string::npos) << c.error().detail;
}

TEST_F(RemoteCredentials, TheContainerEndpointRelativeOrFullWithItsAuthorization) {
  env_["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = "/v2/credentials/abc";
  http_->answer(200, creds_json("ASIAECS", "2099-01-01T00:00:00Z"));
  auto c = get(*chain());
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ((*c)->access_key_id, "ASIAECS");
  EXPECT_EQ(http_->requests().at(0).url, "http://169.254.170.2/v2/credentials/abc");

  const fs::path token = fs::path(::testing::TempDir()) / "sluice-container-token";
  std::ofstream(token) << "from-file\n";
  env_.erase("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  env_["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://127.0.0.1:8080/creds";
  env_["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "from-env";
  env_["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = token.string();  // the file wins (EKS Pod Identity)
  http_->answer(200, creds_json("ASIAPOD", "2099-01-01T00:00:00Z"));
  ASSERT_TRUE(get(*chain()));
  EXPECT_EQ(http_->requests().at(1).url, "http://127.0.0.1:8080/creds");
  EXPECT_EQ(headers(1)["Authorization"], "from-file");
  fs::remove(token);
}

TEST_F(RemoteCredentials, WebIdentityAsksStsWithTheTokenFileReadEachTime) {
  const fs::path token = fs::path(::testing::TempDir()) / "sluice-web-identity-token";
  std::ofstream(token) << "jwt-1\n";
  env_["AWS_WEB_IDENTITY_TOKEN_FILE"] = token.string();
  env_["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/reader";
  // Web identity comes before the shared files and the container endpoint.
  env_["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = "/v2/credentials/abc";
  const std::string sts = R"(<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIASTS</AccessKeyId>
  <SecretAccessKey>wJal/rXU+tnF&amp;EMI</SecretAccessKey><SessionToken>FwoG</SessionToken>
  <Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult>
  </AssumeRoleWithWebIdentityResponse>)";
  http_->answer(200, sts);
  auto p = chain();
  auto c = get(*p);
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ((*c)->access_key_id, "ASIASTS");
  EXPECT_EQ((*c)->secret_access_key, "wJal/rXU+tnF&EMI");
  const auto req = http_->requests().at(0);
  EXPECT_EQ(req.url, "https://sts.eu-west-1.amazonaws.com/");
  auto form = net::parse_form(req.body);
  ASSERT_TRUE(form);
  std::map<std::string, std::string> f;
  for (const auto& field : *form) f[field.name] = field.value;
  EXPECT_EQ(f["Action"], "AssumeRoleWithWebIdentity");
  EXPECT_EQ(f["RoleArn"], "arn:aws:iam::123456789012:role/reader");
  EXPECT_EQ(f["WebIdentityToken"], "jwt-1");
  EXPECT_EQ(f["RoleSessionName"], "sluice");
  EXPECT_EQ(headers(0).count("Authorization"), 0u);  // unsigned: the token is the proof
  fs::remove(token);
}

TEST_F(RemoteCredentials, StsRefusalsAndMalformedAnswersAreClearErrors) {
  auto bad = parse_sts_credentials(R"(<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>
    <Message>Token expired</Message></Error></ErrorResponse>)");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().detail.find("InvalidIdentityToken: Token expired"), std::string::npos) << bad.error().detail;
  for (const char* body : {"", "<html>", "<Credentials><AccessKeyId>A</AccessKeyId></Credentials>",
                           "<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
                           "<Expiration>soon</Expiration></Credentials>"})
    EXPECT_FALSE(parse_sts_credentials(body)) << body;
  for (const char* body : {"", "[]", "{\"AccessKeyId\":1}", "{\"AccessKeyId\":\"A\"}",
                           "{\"Code\":\"Failure\",\"Message\":\"no role\"}",
                           "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"2099-02-30T00:00:00Z\"}"})
    EXPECT_FALSE(parse_credentials_json(body, "test")) << body;
  // The secret never appears in an error.
  auto e = parse_credentials_json(R"({"AccessKeyId":"A","SecretAccessKey":"TOPSECRET","Expiration":"x"})", "test");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().detail.find("TOPSECRET"), std::string::npos);
}

TEST(RefreshingCredentials, FetchedAgainNearTheExpiryAndKeptWhenTheRefreshFails) {
  boost::asio::io_context io;
  auto http = std::make_shared<testing::ScriptedHttp>();
  Clock::time_point now = Clock::now();
  int n = 0;
  Fetch fetch = [&](net::HttpTransport&) -> boost::asio::awaitable<core::Result<Expiring>> {
    ++n;
    if (n == 3) co_return core::fail(core::Errc::unavailable, "endpoint down");
    co_return Expiring{{"KEY" + std::to_string(n), "s", "t"}, now + std::chrono::hours(1)};
  };
  RefreshingCredentials p("test", fetch, http, [&] { return now; });
  auto get = [&] { return testing::run_awaitable(io, p.get()); };
  EXPECT_EQ((*get())->access_key_id, "KEY1");
  now += std::chrono::minutes(49);  // 11 minutes left: still good
  EXPECT_EQ((*get())->access_key_id, "KEY1");
  EXPECT_EQ(n, 1);
  now += std::chrono::minutes(2);  // 9 minutes left: fetched again
  EXPECT_EQ((*get())->access_key_id, "KEY2");
  EXPECT_EQ(n, 2);
  now += std::chrono::minutes(51);  // the refresh fails, but KEY2 holds 9 more minutes
  EXPECT_EQ((*get())->access_key_id, "KEY2");
  EXPECT_EQ(n, 3);
  // Credentials that live 20 s are fetched again after 10 s, not every call.
  Fetch short_lived = [&](net::HttpTransport&) -> boost::asio::awaitable<core::Result<Expiring>> {
    ++n;
    co_return Expiring{{"SHORT", "s", "t"}, now + std::chrono::seconds(20)};
  };
  RefreshingCredentials q("test", short_lived, http, [&] { return now; });
  n = 0;
  testing::run_awaitable(io, q.get());
  now += std::chrono::seconds(9);
  testing::run_awaitable(io, q.get());
  EXPECT_EQ(n, 1);
  now += std::chrono::seconds(2);
  testing::run_awaitable(io, q.get());
  EXPECT_EQ(n, 2);
  // Expired and not refreshable: an error, not stale credentials.
  Fetch failing = [&](net::HttpTransport&) -> boost::asio::awaitable<core::Result<Expiring>> {
    co_return core::fail(core::Errc::unavailable, "endpoint down");
  };
  RefreshingCredentials r("the endpoint", failing, http, [&] { return now; });
  auto e = testing::run_awaitable(io, r.get());
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().detail, "no AWS credentials from the endpoint: unavailable: endpoint down");
}

TEST(RefreshingCredentials, CallersTogetherShareOneFetch) {
  boost::asio::io_context io;
  auto http = std::make_shared<testing::ScriptedHttp>();
  Clock::time_point now = Clock::now();
  int n = 0;
  Fetch slow = [&](net::HttpTransport&) -> boost::asio::awaitable<core::Result<Expiring>> {
    ++n;
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, std::chrono::milliseconds(30));
    co_await t.async_wait(boost::asio::use_awaitable);
    co_return Expiring{{"KEY" + std::to_string(n), "s", "t"}, now + std::chrono::seconds(20)};
  };
  RefreshingCredentials p("test", slow, http, [&] { return now; });
  std::vector<std::string> keys;
  auto caller = [&]() -> boost::asio::awaitable<void> {
    auto c = co_await p.get();
    keys.push_back(c ? (*c)->access_key_id : c.error().to_string());
  };
  // None held yet: all eight wait for the one fetch.
  for (int i = 0; i < 8; ++i) boost::asio::co_spawn(io, caller(), boost::asio::detached);
  io.run();
  EXPECT_EQ(n, 1);
  EXPECT_EQ(keys, std::vector<std::string>(8, "KEY1"));
  // At the refresh point one fetches; the others keep KEY1, which still holds.
  now += std::chrono::seconds(11);
  keys.clear();
  for (int i = 0; i < 8; ++i) boost::asio::co_spawn(io, caller(), boost::asio::detached);
  io.restart();
  io.run();
  EXPECT_EQ(n, 2);
  EXPECT_EQ(std::count(keys.begin(), keys.end(), "KEY1"), 7);
  EXPECT_EQ(keys.back(), "KEY2");
}

}  // namespace
}  // namespace sluice::aws
