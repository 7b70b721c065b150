#pragma once
// AWS Signature Version 4 (docs.aws.amazon.com/IAM/latest/UserGuide/
// reference_sigv4-signing-request.html), for every AWS API sluice calls.
// Checked against AWS's published test suite and against botocore's
// SigV4Auth (sigv4_test.cc).
//
// sign() adds X-Amz-Date, X-Amz-Security-Token (temporary credentials) and
// Authorization to a request; every header the request carries is signed,
// so the caller adds Host, Content-Type and X-Amz-Target first. Pure: no
// clock, no I/O, thread-safe.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
};

struct SignedRequest {
  std::string method;  // "POST"
  std::string path;    // as sent: already percent-encoded, "/" for SQS's JSON protocol
  std::string query;   // as sent, without '?'; empty for none
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Signs `req` for `region` and `service` at `now`: appends the headers.
void sign(SignedRequest& req, const Credentials& credentials, std::string_view region, std::string_view service,
          std::chrono::system_clock::time_point now);

// The same for many requests with one key: the day's signing key (four
// HMACs) is derived once per day instead of per request. Thread-safe.
class Signer {
 public:
  Signer(Credentials credentials, std::string region, std::string service);
  ~Signer();
  void sign(SignedRequest& req, std::chrono::system_clock::time_point now) const;
  const std::string& region() const { return region_; }

 private:
  struct DayKey;
  Credentials credentials_;
  std::string region_, service_;
  std::unique_ptr<DayKey> day_;
};

// The steps, for tests and for reading along with AWS's documentation.
namespace sigv4 {
// "20150830T123600Z"
std::string amz_date(std::chrono::system_clock::time_point t);
// RFC 3986 unreserved characters kept, every other byte %XX (upper case);
// '/' kept when `keep_slash` (paths).
std::string uri_encode(std::string_view s, bool keep_slash);
// The query's parameters decoded, re-encoded and sorted by name, then value.
std::string canonical_query(std::string_view query);
// The canonical request and the semicolon-separated signed header names.
std::pair<std::string, std::string> canonical_request(const SignedRequest& req);
std::string hex_sha256(std::string_view data);
// The key of one day, region and service, as hex.
std::string signing_key_hex(std::string_view secret, std::string_view date, std::string_view region,
                            std::string_view service);
}  // namespace sigv4

}  // namespace sluice::aws
