#pragma once
// AMQP 0-9-1 on the wire (the spec's "General Frame Format" and RabbitMQ's
// errata for field types): frames, method arguments, field tables and the
// Basic content properties. Encoding is append-to-string; decoding never
// trusts the peer: every length is checked against what is there, frames
// against the negotiated frame_max, tables against a nesting bound, and
// anything malformed is an error that ends the connection, never a crash
// (tests/fuzz/fuzz_amqp_frame.cc).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace sluice::amqp {

enum class FrameType : uint8_t { method = 1, header = 2, body = 3, heartbeat = 8 };
inline constexpr uint8_t kFrameEnd = 0xCE;
inline constexpr size_t kFrameOverhead = 8;  // type, channel, size, frame-end
inline constexpr std::string_view kProtocolHeader{"AMQP\x00\x00\x09\x01", 8};

struct TableEntry;

// A field-table value. RabbitMQ's integer types all read as `integer`,
// longstr and byte arrays as `string`; decimals as `floating`.
struct Field {
  enum class Kind { none, boolean, integer, floating, string, timestamp, table, array };
  Kind kind = Kind::none;
  int64_t integer = 0;  // boolean, integer, timestamp
  double floating = 0;
  std::string string;
  std::vector<TableEntry> table;
  std::vector<Field> array;

  static Field of(bool b);
  static Field of(int64_t i);
  static Field of(std::string s);
  // As a metadata value: "true", "42", "text", JSON-ish for tables and arrays.
  std::string to_text() const;
};
// A named table entry (not a std::pair: clang 14 cannot default-construct a
// pair of an incomplete type inside Field).
struct TableEntry {
  std::string name;
  Field value;
};
using Table = std::vector<TableEntry>;
// Defined once TableEntry is complete (clang wants the table's element type whole).
inline Field Field::of(bool b) { return {.kind = Kind::boolean, .integer = b}; }
inline Field Field::of(int64_t i) { return {.kind = Kind::integer, .integer = i}; }
inline Field Field::of(std::string s) { return {.kind = Kind::string, .string = std::move(s)}; }
const Field* find(const Table& t, std::string_view key);

// Basic's content properties, in their wire order.
struct Properties {
  std::optional<std::string> content_type, content_encoding;
  Table headers;
  std::optional<uint8_t> delivery_mode;  // 2: persistent
  std::optional<uint8_t> priority;
  std::optional<std::string> correlation_id, reply_to, expiration, message_id;
  std::optional<uint64_t> timestamp;
  std::optional<std::string> type, user_id, app_id;
};

// Appends big-endian primitives and AMQP strings, tables and bit fields.
class Encoder {
 public:
  explicit Encoder(std::string& out) : out_(out) {}
  Encoder& u8(uint8_t v);
  Encoder& u16(uint16_t v);
  Encoder& u32(uint32_t v);
  Encoder& u64(uint64_t v);
  Encoder& shortstr(std::string_view s);  // cut at 255 bytes
  Encoder& longstr(std::string_view s);
  Encoder& table(const Table& t);
  // Consecutive bits share one octet, the first in the lowest bit.
  Encoder& bits(std::initializer_list<bool> flags);
  Encoder& properties(const Properties& p);

 private:
  void field(const Field& f);
  std::string& out_;
};

// Reads what Encoder wrote; each call fails (and stays failed) once the
// input is short or malformed. ok() says whether everything so far read.
class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  uint8_t u8();
  uint16_t u16();
  uint32_t u32();
  uint64_t u64();
  std::string shortstr();
  std::string longstr();
  Table table();
  bool bit(int index, uint8_t octet) const { return (octet >> index) & 1; }
  Properties properties();
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t remaining() const { return in_.size() - at_; }

 private:
  bool need(size_t n);
  Table table_at(int depth);
  Field field_at(int depth);
  void fail(std::string why);
  std::string_view in_;
  size_t at_ = 0;
  std::string error_;
};

struct Frame {
  FrameType type = FrameType::heartbeat;
  uint16_t channel = 0;
  std::string payload;
};

// Appends one whole frame.
void append_frame(std::string& out, FrameType type, uint16_t channel, std::string_view payload);

// Bytes in, frames out: feed() what the socket gave; next() returns each
// complete frame, nothing while one is incomplete, and Errc::invalid_payload
// once the stream is not AMQP (a bad type, a size over frame_max, a missing
// frame-end), after which the decoder stays failed.
class FrameDecoder {
 public:
  explicit FrameDecoder(size_t frame_max = 131072) : frame_max_(frame_max) {}
  void set_frame_max(size_t frame_max) { frame_max_ = frame_max; }
  void feed(std::string_view bytes);
  core::Result<std::optional<Frame>> next();

 private:
  size_t frame_max_;
  std::string buffer_;
  size_t consumed_ = 0;
  std::string error_;
};

}  // namespace sluice::amqp
