#include "net/twilio_signature.h"

#include "core/hex.h"
#include "net/base64.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

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

// HMAC-SHA1 keyed once: each signature copies the keyed state instead of
// fetching the algorithm and hashing the key again.
class KeyedHmac {
 public:
  explicit KeyedHmac(std::string_view key) {
    mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    ctx_ = mac_ ? EVP_MAC_CTX_new(mac_) : nullptr;
    char digest[] = "SHA1";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (!ctx_ || !EVP_MAC_init(ctx_, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params))
      throw std::runtime_error("OpenSSL has no HMAC-SHA1");
  }
  ~KeyedHmac() {
    EVP_MAC_CTX_free(ctx_);
    EVP_MAC_free(mac_);
  }
  KeyedHmac(const KeyedHmac&) = delete;
  KeyedHmac& operator=(const KeyedHmac&) = delete;

  // base64(HMAC(key, a + b)).
  std::string sign(std::string_view a, std::string_view b) const {
    EVP_MAC_CTX* c = EVP_MAC_CTX_dup(ctx_);
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t len = 0;
    const bool ok = c && EVP_MAC_update(c, reinterpret_cast<const unsigned char*>(a.data()), a.size()) &&
                    EVP_MAC_update(c, reinterpret_cast<const unsigned char*>(b.data()), b.size()) &&
                    EVP_MAC_final(c, mac, &len, sizeof mac);
    EVP_MAC_CTX_free(c);
    if (!ok) return {};  // matches no signature
    return base64(std::string_view(reinterpret_cast<const char*>(mac), len));
  }

 private:
  EVP_MAC* mac_ = nullptr;
  EVP_MAC_CTX* ctx_ = nullptr;
};

// What follows the URL in the signed data: for each name, sorted, name +
// value for each of its distinct values, sorted (byte order = code point
// order for UTF-8, as Python sorts str).
std::string signed_params(const Form& params) {
  std::vector<std::pair<std::string_view, std::string_view>> sorted;
  sorted.reserve(params.size());
  size_t size = 0;
  for (const auto& f : params) {
    sorted.emplace_back(f.name, f.value);
    size += f.name.size() + f.value.size();
  }
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::string data;
  data.reserve(size);
  for (const auto& [name, value] : sorted) {
    data += name;
    data += value;
  }
  return data;
}

std::string with_query(std::string_view url, std::string_view query) {
  std::string out(url);
  if (!query.empty()) {
    out += url.find('?') == std::string_view::npos ? '?' : '&';
    out += query;
  }
  return out;
}

}  // namespace

struct Verifier::Impl {
  Impl(std::string_view token, std::string_view url) : hmac(token), urls(url_variants(url)) {}
  KeyedHmac hmac;
  std::vector<std::string> urls;  // as given, and with the default port added or removed
};

Verifier::Verifier(std::string_view auth_token, std::string_view public_url)
    : impl_(std::make_unique<Impl>(auth_token, public_url)) {}

Verifier::~Verifier() = default;

bool Verifier::form(std::string_view query, const Form& params, std::string_view signature) const {
  const std::string data = signed_params(params);
  bool ok = false;
  // Every variant is computed, so timing does not reveal which one matched.
  for (const auto& u : impl_->urls)
    ok |= equal_constant_time(impl_->hmac.sign(with_query(u, query), data), signature);
  return ok;
}

bool Verifier::json(std::string_view query, std::string_view body, std::string_view signature) const {
  auto parsed = boost::urls::parse_uri_reference(with_query(impl_->urls.front(), query));
  if (!parsed) return false;
  auto params = parsed->params();
  auto it = params.find("bodySHA256");
  if (it == params.end()) return false;
  const bool body_ok = equal_constant_time(sha256_hex(body), (*it).value);
  const bool signature_ok = form(query, {}, signature);
  return body_ok && signature_ok;
}

std::string compute_signature(std::string_view auth_token, std::string_view url, const Form& params) {
  return KeyedHmac(auth_token).sign(url, signed_params(params));
}

bool validate_form(std::string_view auth_token, std::string_view url, const Form& params,
                   std::string_view signature) {
  return Verifier(auth_token, url).form({}, params, signature);
}

bool validate_json(std::string_view auth_token, std::string_view url, std::string_view body,
                   std::string_view signature) {
  return Verifier(auth_token, url).json({}, body, signature);
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return core::hex({reinterpret_cast<const char*>(digest), len});
}

}  // namespace sluice::net::twilio
