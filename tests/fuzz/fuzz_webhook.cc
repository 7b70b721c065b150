// libFuzzer target for everything a webhook request's bytes go through
// before they become a message: HTTP request parsing (Beast, with sluice's
// limits), the form decoder, form-to-JSON, JSON parsing and the Twilio
// signature checks. Any crash or sanitizer report is a bug.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "net/form.h"
#include "net/twilio_signature.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  parser.header_limit(16 << 10);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(input.data(), input.size()), ec);

  auto form = sluice::net::parse_form(input);
  if (form.has_value()) {
    // What a form becomes must be JSON.
    boost::system::error_code json_ec;
    (void)boost::json::parse(sluice::net::form_to_json(*form), json_ec);
    if (json_ec) __builtin_trap();
    (void)sluice::net::twilio::validate_form("token", "https://example.com/hook?x=1", *form, "c2lnbmF0dXJl");
    auto again = sluice::net::parse_form(sluice::net::encode_form(*form));
    if (!again.has_value() || *again != *form) __builtin_trap();  // encode/decode must round-trip
  }
  boost::json::parse(input, ec);
  const std::string url = "https://e.com/?bodySHA256=" + std::string(input.substr(0, 64));
  (void)sluice::net::twilio::validate_json("token", url, input, input.substr(0, 28));
  return 0;
}
