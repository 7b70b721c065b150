#include "admin/server.h"

namespace sluice::admin {

Server::Server(boost::asio::io_context& io, const std::string& address) {
  net::HttpServerOptions options;
  options.address = address;
  options.idle_timeout = std::chrono::seconds(30);
  options.max_connections = 1024;  // people and scrapers, not webhook storms
  http_ = std::make_unique<net::HttpServer>(io, options, [this](net::HttpRequest& req) -> boost::asio::awaitable<Response> {
    co_return co_await dispatch(req);
  });
}

Server::~Server() { stop(); }

void Server::route(const std::string& method, const std::string& path, Handler handler) {
  const bool prefix = path.ends_with('*');
  routes_.push_back({method, prefix ? path.substr(0, path.size() - 1) : path, prefix, std::move(handler), {}});
}

void Server::route_async(const std::string& method, const std::string& path, AsyncHandler handler) {
  const bool prefix = path.ends_with('*');
  routes_.push_back({method, prefix ? path.substr(0, path.size() - 1) : path, prefix, {}, std::move(handler)});
}

boost::asio::awaitable<Response> Server::dispatch(const Request& req) const {
  bool path_known = false;
  for (const auto& r : routes_) {
    const bool match = r.prefix ? req.path.starts_with(r.path) : req.path == r.path;
    if (!match) continue;
    path_known = true;
    if (r.method == req.method) {
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
