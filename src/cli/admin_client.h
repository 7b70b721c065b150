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

// `base` is like http://127.0.0.1:4195; `token` may be empty. Throws
// std::runtime_error when no answer comes or it is not JSON.
AdminAnswer admin_call(const std::string& base, const std::string& token, const std::string& method,
                       const std::string& path, std::string body = "");
// "HTTP <status>: <the answer's error text>".
std::string error_of(const AdminAnswer& a);

}  // namespace sluice::cli
