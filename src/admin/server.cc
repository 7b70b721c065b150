#include "admin/server.h"

#include "admin/origin_guard.h"

namespace sluice::admin {

namespace {
constexpr size_t kDefaultMaxBody = 1 << 20;
}

Server::Server(boost::asio::io_context& io, const std::string& address, std::vector<std::string> hosts)
    : hosts_(std::move(hosts)) {
  net::HttpServerOptions options;
  options.address = address;
  options.idle_timeout = std::chrono::seconds(30);
  // Long enough to upload a million-recipient CSV (about 14 MB) over a slow
  // VPN; slow clients still cannot hold more than max_connections.
  options.request_timeout = std::chrono::seconds(120);
  options.max_connections = 1024;  // people and scrapers, not webhook storms
  options.body_limit_for = [this](std::string_view method, std::string_view target) {
    return body_limit(method, target);
  };
  http_ = std::make_unique<net::HttpServer>(io, options, [this](net::HttpRequest& req) -> boost::asio::awaitable<Response> {
    co_return co_await dispatch(req);
  });
}

Server::~Server() { stop(); }

void Server::route(const std::string& method, const std::string& path, Handler handler) {
  const bool prefix = path.ends_with('*');
  routes_.push_back({method, prefix ? path.substr(0, path.size() - 1) : path, prefix, std::move(handler), {}});
}

void Server::route_async(const std::string& method, const std::string& path, AsyncHandler handler, size_t max_body) {
  const bool prefix = path.ends_with('*');
  routes_.push_back(
      {method, prefix ? path.substr(0, path.size() - 1) : path, prefix, {}, std::move(handler), max_body});
}

// Routes are all added before start(), so reading them here needs no lock.
size_t Server::body_limit(std::string_view method, std::string_view target) const {
  const std::string_view path = target.substr(0, target.find('?'));
  for (const auto& r : routes_)
    if (r.method == method && r.matches(path)) return r.max_body > 0 ? r.max_body : kDefaultMaxBody;
  return kDefaultMaxBody;
}

boost::asio::awaitable<Response> Server::dispatch(const Request& req) const {
  if (auto refusal = refuse_unknown_host(req, hosts_)) co_return *refusal;
  bool path_known = false;
  for (const auto& r : routes_) {
    if (!r.matches(req.path)) continue;
    path_known = true;
    if (r.method == req.method) {
      if (auto refusal = refuse_cross_site(req)) co_return *refusal;
      Response res;
      if (r.async_handler)
        res = co_await r.async_handler(req);
      else
        res = r.handler(req);
      res.headers.emplace_back("Cache-Control", "no-store");
      co_return res;
    }
  }
  co_return path_known ? Response::error(405, "method not allowed") : Response::error(404, "not found");
}

void Server::start() { http_->start(); }
void Server::stop() { http_->stop(); }
std::string Server::address() const { return http_->address(); }

}  // namespace sluice::admin
