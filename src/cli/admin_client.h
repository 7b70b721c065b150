#pragma once
// Blocking JSON calls to an admin API, for the CLI commands that drive a
// running sluice (`alert`, `demo`).

#include <boost/json/value.hpp>

#include <string>

namespace sluice::cli {

struct AdminAnswer {
  int status = 0;
  boost::json::value body;
};

// The admin API's base URL from what a user typed: a URL
// (http://127.0.0.1:4195/) or host:port (127.0.0.1:4195).
std::string admin_url(std::string address);
// `admin` is a URL or host:port (see admin_url); `token` may be empty.
// Throws std::runtime_error when no answer comes or it is not JSON.
AdminAnswer admin_call(const std::string& admin, const std::string& token, const std::string& method,
                       const std::string& path, std::string body = "",
                       const std::string& content_type = "application/json");
// "HTTP <status>: <the answer's error text>".
std::string error_of(const AdminAnswer& a);

}  // namespace sluice::cli
