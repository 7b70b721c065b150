// The twilio output against a scripted HTTP transport: what it sends, and how
// each of Twilio's answers becomes ok / retry / reject with metadata.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <ctime>

#include "config/config.h"
#include "connectors/generate/source_generate.h"
#include "connectors/http/client_settings.h"
#include "connectors/twilio/twilio.h"
#include "metrics/metrics.h"
#include "net/form.h"
#include "runtime/component.h"
#include "testing/fake_http.h"
#include "testing/run_awaitable.h"

namespace sluice::connectors {
namespace {

using runtime::WriteOutcome;

class TwilioOutputTest : public ::testing::Test {
 protected:
  TwilioOutputTest() : ctx_(io_, cfg_, metrics_, [](const std::string&) { return nullptr; }) {
    registry_.add(generate_input_spec());
    registry_.add(twilio_output_spec());
    ctx_.set_http_client_factory([this](const net::HttpClientOptions&) { return http_; });
  }

  std::unique_ptr<runtime::Output> make(const std::string& extra = "") {
    const std::string yaml =
        "admin: {enabled: false}\npipelines:\n  p:\n    input: {generate: {count: 1}}\n    output:\n      twilio: "
        "{account_sid: AC12300000000000000000000000000000, auth_token: secret, from: '+15005550006', base_url: 'https://api.example/'" +
        extra + "}\n";
    auto loaded = config::load_string(yaml, "t.yaml", registry_);
    if (!loaded) throw std::runtime_error(loaded.error().to_string());
    loaded_ = std::make_unique<config::Config>(std::move(*loaded));
    const auto& o = loaded_->pipelines.front().outputs.front().component;
    return o.spec->make_output(o.values, ctx_);
  }

  // Writes one message; returns its outcome, and the message as written.
  std::pair<WriteOutcome, core::Message> send(runtime::Output& out, std::string payload,
                                              std::vector<std::pair<std::string, std::string>> meta = {}) {
    core::Batch b;
    b.messages.emplace_back(std::move(payload));
    for (auto& [k, v] : meta) b.messages[0].meta().set(k, v);
    auto o = testing::run_awaitable(io_, out.write(b));
    return {o.at(0), std::move(b.messages[0])};
  }

  boost::asio::io_context io_;
  config::Config cfg_;
  metrics::Registry metrics_;
  config::Registry registry_;
  runtime::BuildContext ctx_;
  std::unique_ptr<config::Config> loaded_;
  std::shared_ptr<testing::ScriptedHttp> http_ = std::make_shared<testing::ScriptedHttp>();
};

constexpr const char* kMessage = R"({"to":"+15555550100","body":"Flood warning"})";

TEST_F(TwilioOutputTest, PostsTheMessageFormWithBasicAuthAndRecordsTheSid) {
  auto out = make(", status_callback: 'https://hooks.example/s'");
  http_->answer(201, R"({"sid":"SM1","status":"queued","num_segments":"1"})");
  auto [outcome, m] = send(*out, kMessage);
  EXPECT_EQ(outcome.kind, WriteOutcome::Kind::ok) << outcome.reason;
  EXPECT_EQ(*m.meta().find("twilio_sid"), "SM1");
  EXPECT_EQ(*m.meta().find("twilio_status"), "queued");
  EXPECT_EQ(*m.meta().find("twilio_segments"), "1");
  ASSERT_NE(m.meta().find("twilio_sent_at"), nullptr);

  const auto reqs = http_->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].url, "https://api.example/2010-04-01/Accounts/AC12300000000000000000000000000000/Messages.json");
  auto form = net::parse_form(reqs[0].body);
  ASSERT_TRUE(form);
  std::map<std::string, std::string> fields;
  for (const auto& f : *form) fields[f.name] = f.value;
  EXPECT_EQ(fields["To"], "+15555550100");
  EXPECT_EQ(fields["From"], "+15005550006");
  EXPECT_EQ(fields["Body"], "Flood warning");
  EXPECT_EQ(fields["StatusCallback"], "https://hooks.example/s");
  bool auth = false;
  for (const auto& [k, v] : reqs[0].headers) auth |= k == "Authorization" && v == net::basic_auth("AC12300000000000000000000000000000", "secret");
  EXPECT_TRUE(auth) << "no HTTP Basic auth with the account SID and token";
}

TEST_F(TwilioOutputTest, TooManyRequestsIsAnOverloadRetryHonouringRetryAfter) {
  auto out = make();
  http_->answer(429, R"({"code":20429,"message":"Too Many Requests"})", {{"retry-after", "3"}});
  auto [outcome, m] = send(*out, kMessage);
  EXPECT_EQ(outcome.kind, WriteOutcome::Kind::retry);
  EXPECT_TRUE(outcome.overloaded);
  EXPECT_EQ(outcome.retry_after, std::chrono::seconds(3));
  EXPECT_NE(outcome.reason.find("20429"), std::string::npos) << outcome.reason;
}

TEST_F(TwilioOutputTest, QueueOverflowIsRetriedLater) {
  auto out = make();
  http_->answer(400, R"({"code":21611,"message":"This 'From' number has exceeded the maximum number of queued messages"})");
  auto [outcome, m] = send(*out, kMessage);
  EXPECT_EQ(outcome.kind, WriteOutcome::Kind::retry) << outcome.reason;
  EXPECT_TRUE(outcome.overloaded);
  EXPECT_EQ(*m.meta().find("twilio_error_code"), "21611");
}

TEST_F(TwilioOutputTest, InvalidNumberFailsForGoodWithItsCode) {
  auto out = make();
  http_->answer(400, R"({"code":21211,"message":"The 'To' number is not a valid phone number."})");
  auto [outcome, m] = send(*out, kMessage);
  EXPECT_EQ(outcome.kind, WriteOutcome::Kind::reject);
  EXPECT_NE(outcome.reason.find("21211"), std::string::npos) << outcome.reason;
  EXPECT_NE(outcome.reason.find("not a valid phone number"), std::string::npos) << outcome.reason;
  EXPECT_EQ(*m.meta().find("twilio_error_code"), "21211");
}

TEST_F(TwilioOutputTest, ServerErrorsAndTimeoutsAreRetried) {
  auto out = make();
  http_->answer(503, "<html>busy</html>");
  EXPECT_EQ(send(*out, kMessage).first.kind, WriteOutcome::Kind::retry);
  http_->fail(core::Errc::timeout, "POST ...: timed out");
  auto timed_out = send(*out, kMessage).first;
  EXPECT_EQ(timed_out.kind, WriteOutcome::Kind::retry);
  EXPECT_TRUE(timed_out.overloaded);
}

TEST_F(TwilioOutputTest, AMessageWithoutRecipientIsRejectedWithoutARequest) {
  auto out = make();
  auto [outcome, m] = send(*out, R"({"body":"no one to send to"})");
  EXPECT_EQ(outcome.kind, WriteOutcome::Kind::reject);
  EXPECT_NE(outcome.reason.find("to"), std::string::npos) << outcome.reason;
  EXPECT_TRUE(http_->requests().empty());
}

// Outputs that name one `http` resource share its client; the others get
// their own.
TEST(TwilioOutputResources, OutputsNamingOneHttpResourceShareItsClient) {
  config::Registry registry;
  registry.add(generate_input_spec());
  registry.add(twilio_output_spec());
  registry.add(http_resource_spec());
  const std::string twilio = "{account_sid: AC11111111111111111111111111111111, auth_token: t, from: '+15005550006'";
  const std::string yaml = "admin: {enabled: false}\nresources:\n  http:\n    pool: {max_connections: 8, request_timeout: 3s}\n"
                           "pipelines:\n  p:\n    input: {generate: {count: 1}}\n    outputs:\n"
                           "      - twilio: " + twilio + ", client: pool}\n"
                           "      - twilio: " + twilio + ", client: pool}\n"
                           "      - twilio: " + twilio + "}\n";
  auto cfg = config::load_string(yaml, "t.yaml", registry);
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  boost::asio::io_context io;
  metrics::Registry metrics;
  runtime::BuildContext ctx(io, *cfg, metrics, [](const std::string&) { return nullptr; });
  std::vector<net::HttpClientOptions> made;
  ctx.set_http_client_factory([&made](const net::HttpClientOptions& o) {
    made.push_back(o);
    return std::make_shared<testing::ScriptedHttp>();
  });
  std::vector<std::unique_ptr<runtime::Output>> outs;
  for (const auto& o : cfg->pipelines.front().outputs) outs.push_back(o.component.spec->make_output(o.component.values, ctx));
  ASSERT_EQ(made.size(), 2u) << "one client for the resource, one for the output without `client`";
  EXPECT_EQ(made[0].max_connections_per_host, 8u);
  EXPECT_EQ(made[0].request_timeout, std::chrono::seconds(3));
  EXPECT_EQ(made[1].request_timeout, std::chrono::seconds(15)) << "the twilio output's own default";
}

TEST(TwilioOutputResources, NamingAnUndefinedResourceIsAConfigError) {
  config::Registry registry;
  registry.add(generate_input_spec());
  registry.add(twilio_output_spec());
  registry.add(http_resource_spec());
  const std::string yaml = "resources:\n  http:\n    pool: {}\n  htp:\n    x: {}\n"
                           "pipelines:\n  p:\n    input: {generate: {count: 1}}\n    output:\n"
                           "      twilio: {account_sid: AC11111111111111111111111111111111, auth_token: t, from: '+1', client: pol}\n";
  auto cfg = config::load_string(yaml, "t.yaml", registry);
  ASSERT_FALSE(cfg);
  const std::string errors = cfg.error().to_string();
  EXPECT_NE(errors.find("t.yaml:4:3: error: unknown resource kind 'htp'; did you mean 'http'?"), std::string::npos) << errors;
  EXPECT_NE(errors.find("http resource 'pol' is not defined in resources.http; did you mean 'pool'?"), std::string::npos)
      << errors;
}


// A message claimed before a crash without a recorded send: Twilio's list
// is asked first, and a message with its body created since the attempt is
// the send.
std::string twilio_date(int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char out[64];
  std::strftime(out, sizeof out, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return out;
}

TEST_F(TwilioOutputTest, AMaybeSentMessageFoundAtTwilioIsRecordedNotSentAgain) {
  auto out = make();
  const int64_t now_s = std::time(nullptr);
  http_->answer(200, R"({"messages":[{"sid":"SMold","body":"Flood warning","status":"delivered","date_created":")" +
                         twilio_date(now_s - 3600) + R"("},{"sid":"SMmine","body":"Flood warning","status":"sent",)" +
                         R"("num_segments":"1","date_created":")" + twilio_date(now_s) + R"("}]})");
  auto [outcome, m] = send(*out, kMessage, {{"ledger_maybe_sent_ms", std::to_string((now_s - 5) * 1000)}});
  EXPECT_EQ(outcome.kind, WriteOutcome::Kind::ok) << outcome.reason;
  EXPECT_EQ(*m.meta().find("twilio_sid"), "SMmine") << "the one created since the attempt, not an older alert's";
  EXPECT_EQ(*m.meta().find("twilio_status"), "sent");
  EXPECT_EQ(*m.meta().find("twilio_sent_at"), std::to_string(now_s * 1000));
  const auto reqs = http_->requests();
  ASSERT_EQ(reqs.size(), 1u) << "no second send";
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].url,
            "https://api.example/2010-04-01/Accounts/AC12300000000000000000000000000000/Messages.json?PageSize=50&To=%2B15555550100&From=%2B15005550006");
}

TEST_F(TwilioOutputTest, AMaybeSentMessageTwilioDoesNotHaveIsSent) {
  auto out = make();
  const int64_t now_s = std::time(nullptr);
  http_->answer(200, R"({"messages":[{"sid":"SMother","body":"Other text","date_created":")" + twilio_date(now_s) +
                         R"("},{"sid":"SMold","body":"Flood warning","date_created":")" + twilio_date(now_s - 3600) +
                         R"("}]})");
  http_->answer(201, R"({"sid":"SMnew","status":"queued","num_segments":"1"})");
  auto [outcome, m] = send(*out, kMessage, {{"ledger_maybe_sent_ms", std::to_string((now_s - 5) * 1000)}});
  EXPECT_EQ(outcome.kind, WriteOutcome::Kind::ok) << outcome.reason;
  EXPECT_EQ(*m.meta().find("twilio_sid"), "SMnew");
  const auto reqs = http_->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[1].method, "POST");
}

TEST_F(TwilioOutputTest, AMaybeSentMessageIsNotSentBlindWhenTwilioCannotBeAsked) {
  auto out = make();
  for (const auto& [status, body] : std::vector<std::pair<int, std::string>>{{503, "busy"}, {200, "not json"}}) {
    http_->answer(status, body);
    auto [outcome, m] = send(*out, kMessage, {{"ledger_maybe_sent_ms", "1"}});
    EXPECT_EQ(outcome.kind, WriteOutcome::Kind::retry) << status;
  }
  for (const auto& r : http_->requests()) EXPECT_EQ(r.method, "GET");
}

}  // namespace
}  // namespace sluice::connectors
