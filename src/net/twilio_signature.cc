#include "net/twilio_signature.h"

#include "net/base64.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace sluice::net::twilio {

using net::base64;
namespace {

bool equal_constant_time(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The URL as given, with the default port removed, and with it added.
std::vector<std::string> url_variants(std::string_view url) {
  std::vector<std::string> out{std::string(url)};
  auto parsed = boost::urls::parse_uri_reference(url);
  if (!parsed || !parsed->has_authority()) return out;
  boost::urls::url u(*parsed);
  if (u.has_port()) {
    u.remove_port();
  } else {
    const auto scheme = u.scheme();
    u.set_port(scheme == "https" ? "443" : "80");
  }
  out.push_back(std::string(u.buffer()));
  return out;
}

}  // namespace

std::string compute_signature(std::string_view auth_token, std::string_view url, const Form& params) {
  // Names sorted; each name's distinct values sorted (byte order = code
  // point order for UTF-8, as Python sorts str).
  std::map<std::string, std::set<std::string>> sorted;
  for (const auto& f : params) sorted[f.name].insert(f.value);
  std::string data(url);
  for (const auto& [name, values] : sorted)
    for (const auto& v : values) data += name + v;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha1(), auth_token.data(), static_cast<int>(auth_token.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &mac_len);
  return base64(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

bool validate_form(std::string_view auth_token, std::string_view url, const Form& params,
                   std::string_view signature) {
  bool ok = false;
  // Every variant is computed, so timing does not reveal which one matched.
  for (const auto& u : url_variants(url)) ok |= equal_constant_time(compute_signature(auth_token, u, params), signature);
  return ok;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

bool validate_json(std::string_view auth_token, std::string_view url, std::string_view body,
                   std::string_view signature) {
  auto parsed = boost::urls::parse_uri_reference(url);
  if (!parsed) return false;
  auto params = parsed->params();
  auto it = params.find("bodySHA256");
  if (it == params.end()) return false;
  const bool body_ok = equal_constant_time(sha256_hex(body), (*it).value);
  const bool signature_ok = validate_form(auth_token, url, {}, signature);
  return body_ok && signature_ok;
}

}  // namespace sluice::net::twilio
