#pragma once
// What the twilio components share about Twilio's REST API: the account's
// URL root, HTTP Basic auth, and reading the JSON an answer carries.

#include <boost/json/value.hpp>

#include <string>

#include "config/spec.h"

namespace sluice::net {
struct ClientResponse;
}

namespace sluice::connectors::twilio {

// {base_url}/2010-04-01/Accounts/{account_sid}, from a component's values.
std::string account_url(const config::Values& v);
// The Authorization header for the account's sid and token.
std::string authorization(const config::Values& v);
// For a spec's validate: base_url is an http(s) URL and account_sid looks
// like one (AC and 32 hex digits), so `lint` catches a typo in either.
void validate_account(const config::Values& v);

// An answer's JSON body, read field by field; not JSON reads as empty.
class Answer {
 public:
  explicit Answer(const std::string& body);
  explicit Answer(boost::json::value json) : json_(std::move(json)) {}  // e.g. one entry of a list
  // The field as text (numbers as JSON text); empty when absent or null.
  std::string field(const char* name) const;
  // A refusal in words: "Twilio HTTP 400 code 21211: <Twilio's message>"
  // (the start of the body when it has no message).
  std::string reason(const net::ClientResponse& r) const;

 private:
  boost::json::value json_;
};

}  // namespace sluice::connectors::twilio
