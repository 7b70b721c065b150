#include "cli/admin_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <optional>

#include "net/http_client.h"

namespace sluice::cli {

AdminAnswer admin_call(const std::string& base, const std::string& token, const std::string& method,
                       const std::string& path, std::string body) {
  boost::asio::io_context io;
  net::HttpClient client(io, {.request_timeout = std::chrono::seconds(30)});
  net::ClientRequest req{method, base + path, {{"Content-Type", "application/json"}}, std::move(body)};
  if (!token.empty()) req.headers.emplace_back("Authorization", "Bearer " + token);
  std::optional<core::Result<net::ClientResponse>> out;
  auto run = [&]() -> boost::asio::awaitable<void> { out = co_await client.request(std::move(req)); };
  boost::asio::co_spawn(io, run, boost::asio::detached);
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
