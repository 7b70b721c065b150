#include "aws/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <mutex>
#include <stdexcept>

#include "core/hex.h"
#include "net/form.h"

namespace sluice::aws {

namespace {

using Digest = std::array<unsigned char, 32>;

// Fetched once: passing EVP_sha256() looks the algorithm up (under a lock)
// on every call.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

Digest sha256(std::string_view data) {
  Digest out{};
  unsigned int n = 0;
  if (!EVP_Digest(data.data(), data.size(), out.data(), &n, sha256_md(), nullptr))
    throw std::runtime_error("OpenSSL: SHA-256 failed");
  return out;
}

Digest hmac(std::string_view key, std::string_view data) {
  Digest out{};
  unsigned int n = 0;
  if (!HMAC(sha256_md(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), out.data(), &n))
    throw std::runtime_error("OpenSSL: HMAC-SHA256 failed");
  return out;
}

std::string_view view(const Digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

Digest signing_key(std::string_view secret, std::string_view date, std::string_view region, std::string_view service) {
  const Digest k_date = hmac("AWS4" + std::string(secret), date);
  const Digest k_region = hmac(view(k_date), region);
  const Digest k_service = hmac(view(k_region), service);
  return hmac(view(k_service), "aws4_request");
}

int from_hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding of a query component ('+' stays '+': AWS encodes a
// space as %20, and a literal '+' arrives as %2B).
std::string decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = from_hex(s[i + 1]), lo = from_hex(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// Header values are trimmed and runs of spaces inside become one.
std::string canonical_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    const bool blank = c == ' ' || c == '\t';
    if (blank) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

namespace sigv4 {

std::string amz_date(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char out[17];
  std::strftime(out, sizeof out, "%Y%m%dT%H%M%SZ", &utc);
  return out;
}

std::string uri_encode(std::string_view s, bool keep_slash) { return net::percent_encode(s, keep_slash ? "/" : ""); }

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  for (size_t start = 0; start < query.size();) {
    const size_t amp = std::min(query.find('&', start), query.size());
    const std::string_view part = query.substr(start, amp - start);
    if (!part.empty()) {
      const size_t eq = part.find('=');
      const std::string_view key = part.substr(0, eq);
      const std::string_view value = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
      params.emplace_back(uri_encode(decode(key), false), uri_encode(decode(value), false));
    }
    start = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

std::pair<std::string, std::string> canonical_request(const SignedRequest& req) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : req.headers) headers.emplace_back(lower(name), canonical_value(value));
  std::stable_sort(headers.begin(), headers.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string canonical_headers, signed_headers;
  for (size_t i = 0; i < headers.size(); ++i) {
    // A repeated header is signed once, its values joined by commas.
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      canonical_headers.back() = ',';
      canonical_headers += headers[i].second + '\n';
      continue;
    }
    canonical_headers += headers[i].first + ':' + headers[i].second + '\n';
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += headers[i].first;
  }
  std::string out = req.method + '\n' + (req.path.empty() ? "/" : req.path) + '\n' + canonical_query(req.query) +
                    '\n' + canonical_headers + '\n' + signed_headers + '\n' + hex_sha256(req.body);
  return {std::move(out), std::move(signed_headers)};
}

std::string hex_sha256(std::string_view data) { return core::hex(view(sha256(data))); }

std::string signing_key_hex(std::string_view secret, std::string_view date, std::string_view region,
                            std::string_view service) {
  return core::hex(view(signing_key(secret, date, region, service)));
}

}  // namespace sigv4

namespace {

// Adds the date, token and Authorization headers, signing with `key` (the
// signing key of `date`).
void sign_with(SignedRequest& req, const Credentials& credentials, std::string_view region, std::string_view service,
               const std::string& date_time, const Digest& key) {
  const std::string date = date_time.substr(0, 8);
  req.headers.emplace_back("X-Amz-Date", date_time);
  if (!credentials.session_token.empty()) req.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  const auto [canonical, signed_headers] = sigv4::canonical_request(req);
  const std::string scope = date + '/' + std::string(region) + '/' + std::string(service) + "/aws4_request";
  const std::string to_sign = "AWS4-HMAC-SHA256\n" + date_time + '\n' + scope + '\n' + sigv4::hex_sha256(canonical);
  req.headers.emplace_back("Authorization", "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + '/' + scope +
                                                ", SignedHeaders=" + signed_headers +
                                                ", Signature=" + core::hex(view(hmac(view(key), to_sign))));
}

}  // namespace

void sign(SignedRequest& req, const Credentials& credentials, std::string_view region, std::string_view service,
          std::chrono::system_clock::time_point now) {
  const std::string date_time = sigv4::amz_date(now);
  sign_with(req, credentials, region, service, date_time,
            signing_key(credentials.secret_access_key, date_time.substr(0, 8), region, service));
}

struct Signer::DayKey {
  std::mutex mu;
  std::string date;
  Digest key{};
};

Signer::Signer(Credentials credentials, std::string region, std::string service)
    : credentials_(std::move(credentials)),
      region_(std::move(region)),
      service_(std::move(service)),
      day_(std::make_unique<DayKey>()) {}

Signer::~Signer() = default;

void Signer::sign(SignedRequest& req, std::chrono::system_clock::time_point now) const {
  const std::string date_time = sigv4::amz_date(now);
  Digest key;
  {
    std::lock_guard lock(day_->mu);
    if (day_->date != std::string_view(date_time).substr(0, 8)) {
      day_->date = date_time.substr(0, 8);
      day_->key = signing_key(credentials_.secret_access_key, day_->date, region_, service_);
    }
    key = day_->key;
  }
  sign_with(req, credentials_, region_, service_, date_time, key);
}

}  // namespace sluice::aws
