#include "admin/origin_guard.h"

#include <algorithm>
#include <cctype>

#include "core/utf8.h"

namespace sluice::admin {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// "host:port" or "[v6]:port" -> host, lower case.
std::string host_of(std::string_view authority) {
  if (authority.starts_with('[')) return lower(authority.substr(0, authority.find(']') + 1));
  return lower(authority.substr(0, authority.rfind(':')));  // npos: no port, the whole authority
}

bool is_ip_literal(const std::string& host) {
  if (host.starts_with('[')) return true;  // IPv6
  return !host.empty() && host.find_first_not_of("0123456789.") == std::string::npos;
}

bool unsafe(const std::string& method) { return method != "GET" && method != "HEAD" && method != "OPTIONS"; }

}  // namespace

std::optional<net::HttpResponse> refuse_unknown_host(const net::HttpRequest& req, const std::vector<std::string>& hosts) {
  const std::string* host_header = req.header("host");
  const std::string host = host_header ? host_of(*host_header) : std::string();
  if (host_header && (is_ip_literal(host) || host == "localhost" ||
                      std::find(hosts.begin(), hosts.end(), host) != hosts.end()))
    return std::nullopt;
  return net::HttpResponse::error(421, "unknown Host '" + core::clip(host, 64) +
                                           "': the admin API answers to IP addresses, localhost and the names in "
                                           "admin.hosts");
}

std::optional<net::HttpResponse> refuse_cross_site(const net::HttpRequest& req) {
  if (!unsafe(req.method)) return std::nullopt;
  const std::string* host_header = req.header("host");
  const std::string host = host_header ? lower(*host_header) : std::string();
  if (const std::string* site = req.header("sec-fetch-site"); site && *site != "same-origin" && *site != "none")
    return net::HttpResponse::error(403, "refused: a " + core::clip(*site, 16) + " request from a web page");
  if (const std::string* origin = req.header("origin"))
    if (const std::string o = lower(*origin); o != "http://" + host && o != "https://" + host)
      return net::HttpResponse::error(403, "refused: a request from another origin (" + core::clip(*origin, 64) + ")");
  const std::string media = req.media_type();
  if (media != "application/json" && media != "text/csv")
    return net::HttpResponse::error(415, "send Content-Type: application/json (or text/csv for a recipients file)");
  return std::nullopt;
}

}  // namespace sluice::admin
