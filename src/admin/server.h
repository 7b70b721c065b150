#pragma once
// The admin HTTP server: a small router over Beast. The engine registers
// /metrics, /health/* and /api/pipelines; later modules add their own routes.
//
// Lifecycle: constructed bound (throws std::runtime_error if the address is
// taken); start() accepts; stop() closes the listener and idle connections.
// Threads: handlers run on the engine's threads and must be thread-safe.

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace sluice::admin {

struct Request {
  std::string method;
  std::string path;   // without the query string
  std::string query;  // after '?', undecoded
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class Server {
 public:
  using Handler = std::function<Response(const Request&)>;

  Server(boost::asio::io_context& io, const std::string& address);
  ~Server();

  // `path` matches exactly, or as a prefix when it ends with '*'.
  void route(const std::string& method, const std::string& path, Handler handler);
  void start();
  void stop();
  // host:port actually bound (port 0 in the config picks a free one).
  std::string address() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::admin
