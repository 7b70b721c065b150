#pragma once
// RESP, the Redis protocol (redis.io/docs/reference/protocol-spec): commands
// out as arrays of bulk strings, replies in through an incremental decoder
// that never trusts the peer: lengths, element counts and nesting are
// bounded, and anything malformed is an error that ends the connection,
// never a crash (tests/fuzz/fuzz_resp.cc).
//
// RESP2 replies (+simple, -error, :integer, $bulk, *array, the null bulk
// and array) and RESP3's null (_); the other RESP3 types are refused, since
// sluice never sends HELLO 3.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace sluice::redis {

struct Reply {
  enum class Type { simple, error, integer, bulk, array, null };
  Type type = Type::null;
  std::string text;  // simple, error, bulk
  int64_t integer = 0;
  std::vector<Reply> elements;  // array

  bool is_error() const { return type == Type::error; }
  bool is_null() const { return type == Type::null; }
  // For messages: "OK", "ERR unknown command", "42", "[3 elements]", "(nil)".
  std::string describe() const;
};

// Appends one command, e.g. {"LPUSH", "queue:default", job}.
void append_command(std::string& out, const std::vector<std::string_view>& args);

struct DecoderLimits {
  size_t max_bulk = 64 << 20;        // one bulk string (Redis's own default cap is 512 MiB)
  size_t max_elements = 1 << 20;     // elements of one array
  size_t max_depth = 16;             // arrays within arrays
};

// Bytes in, replies out. feed() what the socket gave; next() returns each
// complete reply in order, nothing while one is still incomplete, and
// Errc::invalid_payload once the stream is not RESP (after which the
// decoder stays failed: the connection must be dropped).
class Decoder {
 public:
  explicit Decoder(DecoderLimits limits = {}) : limits_(limits) {}
  void feed(std::string_view bytes);
  core::Result<std::optional<Reply>> next();
  // Bytes fed and not yet consumed by a complete reply.
  size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  enum class Parsed { done, more, bad };
  Parsed parse(size_t& at, Reply& out, size_t depth);
  Parsed line(size_t& at, std::string_view& out);

  DecoderLimits limits_;
  std::string buffer_;
  size_t consumed_ = 0;
  std::string error_;  // set once the stream failed
};

}  // namespace sluice::redis
