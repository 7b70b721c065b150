#pragma once
// A Redis client on the runtime's event loop (RESP written on Asio: see
// README.md for why not hiredis). A call takes a connection of its own from
// a small pool for as long as it runs, writes its commands at once
// (pipelined) and reads their replies in order, so a blocking command
// (BLMOVE, XREADGROUP BLOCK) holds one connection and never delays others.
//
// URLs: redis://[user[:password]@]host[:port][/db], and rediss:// for TLS
// (the server's certificate and name verified against the system's CA
// bundle or tls_ca_file). A new connection sends AUTH (with the user: ACLs)
// and SELECT first. redis+sentinel://[user[:password]@]s1[:port][,s2...]/
// <primary name>[/db] asks the Sentinels (in order) where the primary is,
// again at most once a second, dropping the connections to the old primary
// when it moved; a new connection checks with ROLE that its server is the
// primary, and one that answers READONLY (demoted) is dropped.
//
// Errors: a Redis error reply (-ERR, -WRONGTYPE, -NOSCRIPT) is a Reply of
// type error, for the caller to read; Errc::unavailable is a connection
// that could not be made or broke during the call (the commands may or may
// not have run: the caller decides whether to retry); Errc::timeout a call
// that took longer than its deadline (its connection is dropped);
// Errc::invalid_payload a reply that is not RESP (likewise).
//
// Threads: call from any coroutine on the io_context.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "redis/resp.h"

namespace boost::asio {
class io_context;
}

namespace sluice::redis {

struct ClientOptions {
  std::string url = "redis://127.0.0.1:6379";
  std::chrono::nanoseconds connect_timeout = std::chrono::seconds(5);
  std::chrono::nanoseconds command_timeout = std::chrono::seconds(5);  // beyond a blocking command's own wait
  size_t max_connections = 16;
  size_t max_idle = 4;  // pooled between calls
  bool tls_verify = true;    // rediss://: check the certificate and host name
  std::string tls_ca_file;   // rediss://: CAs to trust instead of the system's
};

// The parts of a redis:// URL; Errc::invalid_payload says what is wrong.
struct Endpoint {
  std::string host;
  std::string port = "6379";
  std::string user;
  std::string password;
  int db = 0;
  bool tls = false;  // rediss://
  // redis+sentinel://: the Sentinels (host, port) to ask for the primary
  // named `master`; host and port are then the last primary found.
  std::vector<std::pair<std::string, std::string>> sentinels;
  std::string master;
};
core::Result<Endpoint> parse_url(const std::string& url);

using Command = std::vector<std::string>;

class Client {
 public:
  // Throws std::invalid_argument for a URL parse_url refuses.
  Client(boost::asio::io_context& io, ClientOptions options);
  ~Client();

  // The commands on one connection, pipelined; their replies in order.
  // `wait`: how long the server may hold the replies back (a blocking
  // command's own timeout), added to the command timeout.
  boost::asio::awaitable<core::Result<std::vector<Reply>>> pipeline(
      std::vector<Command> commands, std::chrono::nanoseconds wait = std::chrono::nanoseconds(0));
  boost::asio::awaitable<core::Result<Reply>> command(Command command,
                                                       std::chrono::nanoseconds wait = std::chrono::nanoseconds(0));

  size_t open_connections() const;
  const Endpoint& endpoint() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::redis
