#include "cli/admin_client.h"

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <optional>

#include "async/spawn.h"
#include "net/http_client.h"

namespace sluice::cli {

std::string admin_url(std::string address) {
  while (!address.empty() && address.back() == '/') address.pop_back();
  if (address.find("://") == std::string::npos) address = "http://" + address;
  return address;
}

AdminAnswer admin_call(const std::string& admin, const std::string& token, const std::string& method,
                       const std::string& path, std::string body, const std::string& content_type) {
  const std::string base = admin_url(admin);
  boost::asio::io_context io;
  net::HttpClient client(io, {.request_timeout = std::chrono::seconds(120)});  // a big alert's upload
  net::ClientRequest req{method, base + path, {{"Content-Type", content_type}}, std::move(body)};
  if (!token.empty()) req.headers.emplace_back("Authorization", "Bearer " + token);
  std::optional<core::Result<net::ClientResponse>> out;
  auto run = [&]() -> boost::asio::awaitable<void> { out = co_await client.request(std::move(req)); };
  async::spawn(io, run);
  io.run();
  if (!*out) throw std::runtime_error(fmt::format("{} {}: {}", method, base + path, out->error().to_string()));
  boost::system::error_code ec;
  AdminAnswer a{(*out)->status, boost::json::parse((*out)->body, ec)};
  if (ec) throw std::runtime_error(fmt::format("{} {}: HTTP {} and not JSON", method, base + path, a.status));
  return a;
}

std::string error_of(const AdminAnswer& a) {
  const auto* e = a.body.is_object() ? a.body.as_object().if_contains("error") : nullptr;
  return fmt::format("HTTP {}: {}", a.status,
                     e && e->is_string() ? std::string(e->as_string()) : boost::json::serialize(a.body));
}

}  // namespace sluice::cli
