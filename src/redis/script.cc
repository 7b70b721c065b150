#include "redis/script.h"

#include <openssl/evp.h>

#include <fmt/format.h>

#include "redis/client.h"

namespace sluice::redis {
namespace {

std::string sha1_hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

Command call(std::string verb, const std::string& script, const std::vector<std::string>& keys,
             const std::vector<std::string>& args) {
  Command c{std::move(verb), script, std::to_string(keys.size())};
  c.insert(c.end(), keys.begin(), keys.end());
  c.insert(c.end(), args.begin(), args.end());
  return c;
}

}  // namespace

Script::Script(std::string source) : source_(std::move(source)), sha_(sha1_hex(source_)) {}

boost::asio::awaitable<core::Result<Reply>> Script::run(Client& client, std::vector<std::string> keys,
                                                        std::vector<std::string> args) const {
  auto reply = co_await client.command(call("EVALSHA", sha_, keys, args));
  if (!reply || !reply->is_error() || !reply->text.starts_with("NOSCRIPT")) co_return reply;
  co_return co_await client.command(call("EVAL", source_, keys, args));
}

}  // namespace sluice::redis
