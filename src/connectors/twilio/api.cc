#include "connectors/twilio/api.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "net/http_client.h"

namespace sluice::connectors::twilio {

std::string account_url(const config::Values& v) {
  std::string base = v.str("base_url");
  while (!base.empty() && base.back() == '/') base.pop_back();
  return fmt::format("{}/2010-04-01/Accounts/{}", base, v.str("account_sid"));
}

std::string authorization(const config::Values& v) { return net::basic_auth(v.str("account_sid"), v.str("auth_token")); }

void validate_account(const config::Values& v) {
  if (auto problem = net::url_problem(v.str("base_url")))
    throw v.error("base_url", "base_url must be an http(s) URL like https://api.twilio.com: " + *problem);
  const std::string sid = v.str("account_sid");
  const bool hex = sid.size() == 34 && std::all_of(sid.begin() + 2, sid.end(), [](unsigned char c) {
    return std::isxdigit(c);
  });
  if (!sid.starts_with("AC") || !hex)
    throw v.error("account_sid", "account_sid must be AC followed by 32 hex digits (Twilio Console, Account Info)");
}

Answer::Answer(const std::string& body) {
  boost::system::error_code ec;
  json_ = boost::json::parse(body, ec);
  if (ec) json_ = nullptr;
}

std::string Answer::field(const char* name) const {
  const auto* obj = json_.if_object();
  if (!obj) return {};
  auto it = obj->find(name);
  if (it == obj->end() || it->value().is_null()) return {};
  if (const auto* s = it->value().if_string()) return std::string(*s);
  return boost::json::serialize(it->value());
}

std::string Answer::reason(const net::ClientResponse& r) const {
  const std::string code = field("code"), message = field("message");
  return fmt::format("Twilio HTTP {} code {}: {}", r.status, code.empty() ? "-" : code,
                     message.empty() ? r.body.substr(0, 200) : message);
}

}  // namespace sluice::connectors::twilio
