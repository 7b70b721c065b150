#pragma once
// A Lua script run by its SHA1 (EVALSHA), so that each call sends 40 bytes
// and not the script. A server that does not know it (restarted, failed
// over, SCRIPT FLUSH) answers NOSCRIPT; the script is then sent whole once
// (EVAL, which also caches it) and the call goes on.

#include <boost/asio/awaitable.hpp>

#include <string>
#include <vector>

#include "core/error.h"
#include "redis/resp.h"

namespace sluice::redis {

class Client;

class Script {
 public:
  explicit Script(std::string source);

  const std::string& source() const { return source_; }
  const std::string& sha() const { return sha_; }  // 40 lowercase hex digits, as SCRIPT LOAD answers

  // The script's reply; a script error (or any error reply but NOSCRIPT) is
  // a Reply of type error, as with Client::command.
  boost::asio::awaitable<core::Result<Reply>> run(Client& client, std::vector<std::string> keys,
                                                  std::vector<std::string> args) const;

 private:
  std::string source_;
  std::string sha_;
};

}  // namespace sluice::redis
