#pragma once
// application/x-www-form-urlencoded, as browsers and Twilio send it:
// `a=1&b=x+y&b=%C3%A9`. Decoding is strict: a bad %-escape or a value that
// is not UTF-8 is an error, so malformed bodies get a 400, not a guess.


#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::net {

struct FormField {
  std::string name;
  std::string value;
  bool operator==(const FormField&) const = default;
};
using Form = std::vector<FormField>;  // in body order; names may repeat

std::expected<Form, std::string> parse_form(std::string_view body);
std::string encode_form(const Form& form);
// %-decodes (and '+' -> ' ' when `plus_is_space`); error text on bad input.
std::expected<std::string, std::string> percent_decode(std::string_view s, bool plus_is_space);
// RFC 3986: unreserved characters (and those in `also_keep`, e.g. "/" for a
// path) kept, every other byte %XX in upper case. SigV4 signs this form too.
std::string percent_encode(std::string_view s, std::string_view also_keep = {});
// The JSON text {"name":"value"}, a repeated name becoming ["v1","v2"].
std::string form_to_json(const Form& form);
bool valid_utf8(std::string_view s);

}  // namespace sluice::net
