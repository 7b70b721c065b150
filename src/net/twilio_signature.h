#pragma once
// X-Twilio-Signature, computed and checked exactly as Twilio's own libraries
// do (twilio-python's RequestValidator):
//
//   data = public URL (with its query string)
//          + for each POST parameter name, sorted: name + value, for each
//            of its distinct values, sorted
//   signature = base64(HMAC-SHA1(auth_token, data))
//
// The URL is tried as given, with the default port added and with it
// removed, since Twilio is inconsistent about ports. For JSON bodies the URL
// carries `bodySHA256` (hex SHA-256 of the body), the body must match it,
// and the URL is signed with no parameters. Comparison is constant-time.

#include <memory>
#include <string>
#include <string_view>

#include "net/form.h"

namespace sluice::net::twilio {

// The checks for one endpoint: the key and the public URL's variants are
// prepared once, so a check costs one HMAC per variant and no URL parsing.
// Threads: any number at once (const).
class Verifier {
 public:
  // `public_url`: the URL Twilio calls, as Twilio sees it, without the
  // request's query string (appended per request).
  Verifier(std::string_view auth_token, std::string_view public_url);
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  bool form(std::string_view query, const Form& params, std::string_view signature) const;
  bool json(std::string_view query, std::string_view body, std::string_view signature) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string compute_signature(std::string_view auth_token, std::string_view url, const Form& params);
// Validates a form-encoded request.
bool validate_form(std::string_view auth_token, std::string_view url, const Form& params,
                   std::string_view signature);
// Validates a JSON request; `url` must carry bodySHA256.
bool validate_json(std::string_view auth_token, std::string_view url, std::string_view body,
                   std::string_view signature);
std::string sha256_hex(std::string_view data);

}  // namespace sluice::net::twilio
