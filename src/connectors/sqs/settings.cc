#include "connectors/sqs/settings.h"

#include <fmt/format.h>

#include <map>

#include "aws/credentials_provider.h"
#include "config/config.h"
#include "connectors/http/client_settings.h"
#include "connectors/sqs/client.h"
#include "logging/log.h"
#include "metrics/metrics.h"
#include "net/http_client.h"
#include "runtime/build_context.h"

namespace sluice::connectors::sqs {

std::vector<config::Field> with_connection_fields(std::vector<config::Field> own) {
  using config::Type;
  std::vector<config::Field> fields = {
      {.name = "url", .doc = "The queue URL, e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/orders.",
       .required = true},
      {.name = "endpoint",
       .doc = "Where requests go: default https://sqs.<region>.amazonaws.com; set it for an emulator or a VPC "
              "endpoint."},
      {.name = "region", .doc = "AWS region; default: from the queue URL, else AWS_REGION or AWS_DEFAULT_REGION."},
      {.name = "credentials",
       .type = Type::object,
       .doc = "Default: the environment (AWS_ACCESS_KEY_ID, ...), EKS web identity (AWS_WEB_IDENTITY_TOKEN_FILE), "
              "the shared files (~/.aws) for `profile` or AWS_PROFILE, the ECS container endpoint, then EC2 "
              "instance metadata (IMDSv2); temporary ones are refreshed before they expire.",
       .children = {{.name = "access_key_id", .doc = "Access key id."},
                    {.name = "secret_access_key", .doc = "Secret access key.", .secret = true},
                    {.name = "session_token", .doc = "Session token of temporary credentials.", .secret = true},
                    {.name = "profile", .doc = "Profile of the shared files."}}},
  };
  for (auto& f : own) fields.push_back(std::move(f));
  return with_http_client_fields(std::move(fields), "30s");
}

namespace {

// Where requests go; throws the config error otherwise.
Settings place_of(const config::Values& v) {
  const std::string url = v.str("url");
  if (auto problem = net::url_problem(url)) throw v.error("url", *problem);
  const auto env = aws::process_environment();
  std::string region = v.has("region") ? v.str("region") : region_of_queue_url(url);
  if (region.empty()) region = env("AWS_REGION").value_or(env("AWS_DEFAULT_REGION").value_or(""));
  if (region.empty())
    throw v.error("url", "no AWS region: the queue URL does not name one; set `region` (or AWS_REGION)");
  const std::string endpoint =
      v.has("endpoint") ? v.str("endpoint") : fmt::format("https://sqs.{}.amazonaws.com", region);
  if (auto problem = net::url_problem(endpoint)) throw v.error("endpoint", *problem);
  return {endpoint, region, {}};
}

// Who signs: looked up when the pipeline is built, not by lint, which may
// run where the credentials are not (a CI job linting a deployment's config).
std::shared_ptr<aws::CredentialsProvider> credentials_of(const config::Values& v, const Settings& place,
                                                         std::shared_ptr<net::HttpTransport> http) {
  const auto& c = v.object("credentials");
  aws::CredentialSource source{c.has("access_key_id") ? c.str("access_key_id") : "",
                               c.has("secret_access_key") ? c.str("secret_access_key") : "",
                               c.has("session_token") ? c.str("session_token") : "",
                               c.has("profile") ? c.str("profile") : ""};
  auto chain = aws::credentials_chain(source, aws::process_environment(), std::move(http), place.region);
  if (!chain) throw v.error("credentials", chain.error().detail);
  logging::debug("sqs {}: region {}, endpoint {}, credentials from {}", v.str("url"), place.region, place.endpoint,
                 (*chain)->from());
  return *chain;
}

}  // namespace

void validate_connection(const config::Values& v) { place_of(v); }

std::shared_ptr<Client> make_client(const config::Values& v, runtime::BuildContext& ctx) {
  Settings s = place_of(v);
  auto http = http_client_for(v, ctx);
  s.credentials = credentials_of(v, s, http);
  const metrics::Labels l = {{"pipeline", ctx.pipeline()}, {"queue", v.str("url")}};
  auto& m = ctx.metrics();
  std::map<std::string, metrics::Counter*, std::less<>> calls;
  for (const char* action : {"ReceiveMessage", "DeleteMessageBatch", "ChangeMessageVisibilityBatch",
                             "SendMessageBatch", "GetQueueAttributes"})
    calls[action] = &m.counter("sluice_sqs_requests_total", "SQS API calls, by action.",
                               {l[0], l[1], {"action", action}});
  auto* billed = &m.counter("sluice_sqs_requests_billed_total",
                            "Requests SQS bills for: one per 64 KiB of each call's payload.", l);
  Meter meter = [calls = std::move(calls), billed](const char* action, size_t n) {
    if (auto it = calls.find(std::string_view(action)); it != calls.end()) it->second->inc();
    billed->inc(n);
  };
  return std::make_shared<Client>(std::move(http), std::move(s), std::move(meter));
}

}  // namespace sluice::connectors::sqs
