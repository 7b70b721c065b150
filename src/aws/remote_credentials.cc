#include "aws/remote_credentials.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "core/rfc3339.h"
#include "net/form.h"
#include "net/http_client.h"

namespace sluice::aws {
namespace {

namespace json = boost::json;
using Clock = std::chrono::system_clock;

std::string string_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// The text of the first <tag>...</tag> inside `xml`, entities decoded.
std::string xml_text(std::string_view xml, std::string_view tag) {
  const std::string open = fmt::format("<{}>", tag), close = fmt::format("</{}>", tag);
  const size_t a = xml.find(open);
  if (a == std::string_view::npos) return {};
  const size_t b = xml.find(close, a + open.size());
  if (b == std::string_view::npos) return {};
  std::string_view raw = xml.substr(a + open.size(), b - a - open.size());
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '&') {
      out += raw[i];
      continue;
    }
    static constexpr std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}, {"&#x2F;", '/'}, {"&#47;", '/'}};
    bool known = false;
    for (const auto& [name, c] : kEntities)
      if (raw.substr(i).starts_with(name)) {
        out += c;
        i += name.size() - 1;
        known = true;
        break;
      }
    if (!known) out += '&';
  }
  return out;
}

core::Result<Expiring> complete(Credentials c, std::string_view expiration, const std::string& from) {
  if (c.access_key_id.empty() || c.secret_access_key.empty())
    return core::fail(core::Errc::invalid_payload, fmt::format("{} answered without AccessKeyId and SecretAccessKey", from));
  Expiring e{std::move(c)};
  if (!expiration.empty()) {
    auto t = core::parse_rfc3339(expiration);
    if (!t) return core::fail(core::Errc::invalid_payload, fmt::format("{} answered an Expiration that is not a time", from));
    e.expires = *t;
  }
  return e;
}

// The answer's body when it is a 200, else why not.
core::Result<std::string> body_of(core::Result<net::ClientResponse> r, const std::string& what) {
  if (!r) return core::fail(core::Errc::unavailable, fmt::format("{}: {}", what, r.error().to_string()));
  if (r->status != 200)
    return core::fail(core::Errc::unavailable, fmt::format("{} answered HTTP {}: {:.200}", what, r->status, r->body));
  return std::move(r->body);
}

}  // namespace

core::Result<Expiring> parse_credentials_json(std::string_view body, const std::string& from) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object())
    return core::fail(core::Errc::invalid_payload, fmt::format("{} answered something that is not JSON", from));
  const auto& o = v.as_object();
  if (const std::string code = string_at(o, "Code"); !code.empty() && code != "Success")
    return core::fail(core::Errc::unavailable, fmt::format("{} answered Code {}: {:.200}", from, code,
                                                           string_at(o, "Message")));
  return complete({string_at(o, "AccessKeyId"), string_at(o, "SecretAccessKey"), string_at(o, "Token")},
                  string_at(o, "Expiration"), from);
}

core::Result<Expiring> parse_sts_credentials(std::string_view body) {
  const std::string from = "STS AssumeRoleWithWebIdentity";
  if (body.find("<ErrorResponse") != std::string_view::npos)
    return core::fail(core::Errc::unavailable,
                      fmt::format("{}: {}: {:.300}", from, xml_text(body, "Code"), xml_text(body, "Message")));
  const std::string credentials = xml_text(body, "Credentials");
  if (credentials.empty())
    return core::fail(core::Errc::invalid_payload, fmt::format("{} answered without Credentials", from));
  return complete({xml_text(credentials, "AccessKeyId"), xml_text(credentials, "SecretAccessKey"),
                   xml_text(credentials, "SessionToken")},
                  xml_text(credentials, "Expiration"), from);
}

Fetch container_fetch(std::string url, std::string authorization) {
  return [url = std::move(url), authorization = std::move(authorization)](
             net::HttpTransport& http) -> boost::asio::awaitable<core::Result<Expiring>> {
    net::ClientRequest req{"GET", url, {{"Accept", "application/json"}}, "", std::chrono::seconds(2)};
    if (!authorization.empty()) req.headers.emplace_back("Authorization", authorization);
    const std::string what = "the container credentials endpoint " + url;
    auto r = co_await http.request(std::move(req));
    auto body = body_of(std::move(r), what);
    if (!body) co_return std::unexpected(body.error());
    co_return parse_credentials_json(*body, what);
  };
}

Fetch imds_fetch(std::string endpoint) {
  while (endpoint.ends_with('/')) endpoint.pop_back();
  return [endpoint = std::move(endpoint)](net::HttpTransport& http) -> boost::asio::awaitable<core::Result<Expiring>> {
    const std::string what = "the EC2 instance metadata service at " + endpoint;
    constexpr auto kTimeout = std::chrono::seconds(1);  // off EC2 nothing answers: say so soon
    net::ClientRequest token_req{
        "PUT", endpoint + "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}}, "", kTimeout};
    auto token_answer = co_await http.request(std::move(token_req));
    auto token = body_of(std::move(token_answer), what + " (session token)");
    if (!token) co_return std::unexpected(token.error());
    const std::string base = endpoint + "/latest/meta-data/iam/security-credentials/";
    net::ClientRequest roles_req{"GET", base, {{"X-aws-ec2-metadata-token", *token}}, "", kTimeout};
    auto roles_answer = co_await http.request(std::move(roles_req));
    auto roles = body_of(std::move(roles_answer), what + " (role)");
    if (!roles) co_return std::unexpected(roles.error());
    // One role per instance profile: the first line.
    std::string role = roles->substr(0, roles->find_first_of("\r\n"));
    if (role.empty())
      co_return core::fail(core::Errc::unavailable, what + ": the instance has no IAM role (instance profile)");
    net::ClientRequest role_req{"GET", base + role, {{"X-aws-ec2-metadata-token", *token}}, "", kTimeout};
    auto answer = co_await http.request(std::move(role_req));
    auto body = body_of(std::move(answer), what);
    if (!body) co_return std::unexpected(body.error());
    co_return parse_credentials_json(*body, what + " (role " + role + ")");
  };
}

Fetch web_identity_fetch(std::string sts_endpoint, std::string role_arn, std::string session_name,
                         std::string token_file) {
  while (sts_endpoint.ends_with('/')) sts_endpoint.pop_back();
  return [=](net::HttpTransport& http) -> boost::asio::awaitable<core::Result<Expiring>> {
    std::ifstream in(token_file);
    std::stringstream token;
    token << in.rdbuf();
    if (!in || token.str().empty())
      co_return core::fail(core::Errc::unavailable,
                           fmt::format("cannot read the web identity token file {} (AWS_WEB_IDENTITY_TOKEN_FILE)", token_file));
    std::string t = token.str();
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    // Unsigned: the token is the proof.
    const net::Form form = {{"Action", "AssumeRoleWithWebIdentity"}, {"Version", "2011-06-15"},
                            {"RoleArn", role_arn},                   {"RoleSessionName", session_name},
                            {"WebIdentityToken", t}};
    net::ClientRequest req{"POST", sts_endpoint + "/",
                           {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
                           net::encode_form(form), std::chrono::seconds(5)};
    auto r = co_await http.request(std::move(req));
    if (!r) co_return core::fail(core::Errc::unavailable, fmt::format("STS at {}: {}", sts_endpoint, r.error().to_string()));
    // STS's errors are XML too, with a 4xx: parse_sts_credentials says which.
    co_return parse_sts_credentials(r->body);
  };
}

}  // namespace sluice::aws
