#pragma once
// The admin HTTP API: a router of exact and prefix routes over
// net::HttpServer. The engine registers /metrics, /health/* and
// /api/pipelines; later modules add their own routes.
//
// Lifecycle: constructed bound (throws std::runtime_error if the address is
// taken); routes added before start(); stop() closes the listener.
// Threads: handlers run on the engine's threads and must be thread-safe.

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string_view>
#include <string>
#include <vector>

#include "net/http_server.h"

namespace sluice::admin {

using Request = net::HttpRequest;
using Response = net::HttpResponse;

class Server {
 public:
  using Handler = std::function<Response(const Request&)>;
  // For handlers that wait (e.g. for a durable enqueue) without a thread.
  using AsyncHandler = std::function<boost::asio::awaitable<Response>(const Request&)>;

  // `hosts`: names it answers to beside IP addresses and localhost (see
  // origin_guard.h: every request passes that guard first).
  Server(boost::asio::io_context& io, const std::string& address, std::vector<std::string> hosts = {});
  ~Server();

  // `path` matches exactly, or as a prefix when it ends with '*'. Bodies are
  // limited to 1 MiB unless a route says otherwise (`max_body`, bytes).
  void route(const std::string& method, const std::string& path, Handler handler);
  void route_async(const std::string& method, const std::string& path, AsyncHandler handler, size_t max_body = 0);
  void start();
  void stop();
  std::string address() const;

 private:
  struct Route {
    std::string method, path;
    bool prefix;
    Handler handler;
    AsyncHandler async_handler;
    size_t max_body = 0;  // 0: the server's default
    bool matches(std::string_view request_path) const {
      return prefix ? request_path.starts_with(path) : request_path == path;
    }
  };
  boost::asio::awaitable<Response> dispatch(const Request& req) const;
  size_t body_limit(std::string_view method, std::string_view target) const;

  std::vector<Route> routes_;
  std::vector<std::string> hosts_;
  std::unique_ptr<net::HttpServer> http_;
};

}  // namespace sluice::admin
