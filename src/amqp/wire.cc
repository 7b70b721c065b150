#include "amqp/wire.h"

#include <fmt/format.h>

#include <bit>
#include <cstring>

namespace sluice::amqp {
namespace {

constexpr int kMaxDepth = 16;  // tables within tables

// Property flag bits, highest first, in wire order.
enum : uint16_t {
  kContentType = 1 << 15,
  kContentEncoding = 1 << 14,
  kHeaders = 1 << 13,
  kDeliveryMode = 1 << 12,
  kPriority = 1 << 11,
  kCorrelationId = 1 << 10,
  kReplyTo = 1 << 9,
  kExpiration = 1 << 8,
  kMessageId = 1 << 7,
  kTimestamp = 1 << 6,
  kType = 1 << 5,
  kUserId = 1 << 4,
  kAppId = 1 << 3,
  kClusterId = 1 << 2,
};

void json_quote(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
      continue;
    }
    out += c;
  }
  out += '"';
}

void to_json(std::string& out, const Field& f) {
  switch (f.kind) {
    case Field::Kind::string:
      json_quote(out, f.string);
      return;
    case Field::Kind::table: {
      out += '{';
      bool first = true;
      for (const auto& [k, v] : f.table) {
        if (!first) out += ',';
        first = false;
        json_quote(out, k);
        out += ':';
        to_json(out, v);
      }
      out += '}';
      return;
    }
    case Field::Kind::array: {
      out += '[';
      for (size_t i = 0; i < f.array.size(); ++i) {
        if (i) out += ',';
        to_json(out, f.array[i]);
      }
      out += ']';
      return;
    }
    default:
      out += f.kind == Field::Kind::none ? "null" : f.to_text();
  }
}

}  // namespace

std::string Field::to_text() const {
  switch (kind) {
    case Kind::none:
      return "";
    case Kind::boolean:
      return integer ? "true" : "false";
    case Kind::integer:
    case Kind::timestamp:
      return std::to_string(integer);
    case Kind::floating:
      return fmt::format("{}", floating);
    case Kind::string:
      return string;
    case Kind::table:
    case Kind::array: {
      std::string out;
      to_json(out, *this);
      return out;
    }
  }
  return "";
}

const Field* find(const Table& t, std::string_view key) {
  for (const auto& [k, v] : t)
    if (k == key) return &v;
  return nullptr;
}

Encoder& Encoder::u8(uint8_t v) {
  out_ += static_cast<char>(v);
  return *this;
}
Encoder& Encoder::u16(uint16_t v) { return u8(static_cast<uint8_t>(v >> 8)).u8(static_cast<uint8_t>(v)); }
Encoder& Encoder::u32(uint32_t v) { return u16(static_cast<uint16_t>(v >> 16)).u16(static_cast<uint16_t>(v)); }
Encoder& Encoder::u64(uint64_t v) { return u32(static_cast<uint32_t>(v >> 32)).u32(static_cast<uint32_t>(v)); }

Encoder& Encoder::shortstr(std::string_view s) {
  s = s.substr(0, 255);
  u8(static_cast<uint8_t>(s.size()));
  out_.append(s);
  return *this;
}

Encoder& Encoder::longstr(std::string_view s) {
  u32(static_cast<uint32_t>(s.size()));
  out_.append(s);
  return *this;
}

Encoder& Encoder::bits(std::initializer_list<bool> flags) {
  uint8_t octet = 0;
  int i = 0;
  for (bool f : flags) octet |= static_cast<uint8_t>(f) << i++;
  return u8(octet);
}

void Encoder::field(const Field& f) {
  switch (f.kind) {
    case Field::Kind::none:
      u8('V');
      return;
    case Field::Kind::boolean:
      u8('t').u8(f.integer ? 1 : 0);
      return;
    case Field::Kind::integer:
      u8('l').u64(static_cast<uint64_t>(f.integer));
      return;
    case Field::Kind::timestamp:
      u8('T').u64(static_cast<uint64_t>(f.integer));
      return;
    case Field::Kind::floating:
      u8('d').u64(std::bit_cast<uint64_t>(f.floating));
      return;
    case Field::Kind::string:
      u8('S').longstr(f.string);
      return;
    case Field::Kind::table:
      u8('F').table(f.table);
      return;
    case Field::Kind::array: {
      u8('A');
      const size_t at = out_.size();
      u32(0);
      for (const auto& e : f.array) field(e);
      const auto n = static_cast<uint32_t>(out_.size() - at - 4);
      for (int i = 0; i < 4; ++i) out_[at + i] = static_cast<char>(n >> (24 - 8 * i));
      return;
    }
  }
}

Encoder& Encoder::table(const Table& t) {
  const size_t at = out_.size();
  u32(0);
  for (const auto& [k, v] : t) {
    shortstr(k);
    field(v);
  }
  const auto n = static_cast<uint32_t>(out_.size() - at - 4);
  for (int i = 0; i < 4; ++i) out_[at + i] = static_cast<char>(n >> (24 - 8 * i));
  return *this;
}

Encoder& Encoder::properties(const Properties& p) {
  uint16_t flags = 0;
  if (p.content_type) flags |= kContentType;
  if (p.content_encoding) flags |= kContentEncoding;
  if (!p.headers.empty()) flags |= kHeaders;
  if (p.delivery_mode) flags |= kDeliveryMode;
  if (p.priority) flags |= kPriority;
  if (p.correlation_id) flags |= kCorrelationId;
  if (p.reply_to) flags |= kReplyTo;
  if (p.expiration) flags |= kExpiration;
  if (p.message_id) flags |= kMessageId;
  if (p.timestamp) flags |= kTimestamp;
  if (p.type) flags |= kType;
  if (p.user_id) flags |= kUserId;
  if (p.app_id) flags |= kAppId;
  u16(flags);
  if (p.content_type) shortstr(*p.content_type);
  if (p.content_encoding) shortstr(*p.content_encoding);
  if (!p.headers.empty()) table(p.headers);
  if (p.delivery_mode) u8(*p.delivery_mode);
  if (p.priority) u8(*p.priority);
  if (p.correlation_id) shortstr(*p.correlation_id);
  if (p.reply_to) shortstr(*p.reply_to);
  if (p.expiration) shortstr(*p.expiration);
  if (p.message_id) shortstr(*p.message_id);
  if (p.timestamp) u64(*p.timestamp);
  if (p.type) shortstr(*p.type);
  if (p.user_id) shortstr(*p.user_id);
  if (p.app_id) shortstr(*p.app_id);
  return *this;
}

void Decoder::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  at_ = in_.size();
}

bool Decoder::need(size_t n) {
  if (!error_.empty()) return false;
  if (in_.size() - at_ >= n) return true;
  fail(fmt::format("truncated: {} more bytes needed, {} left", n, in_.size() - at_));
  return false;
}

uint8_t Decoder::u8() {
  if (!need(1)) return 0;
  return static_cast<uint8_t>(in_[at_++]);
}
uint16_t Decoder::u16() {
  const uint16_t hi = u8();
  return static_cast<uint16_t>(hi << 8 | u8());
}
uint32_t Decoder::u32() {
  const uint32_t hi = u16();
  return hi << 16 | u16();
}
uint64_t Decoder::u64() {
  const uint64_t hi = u32();
  return hi << 32 | u32();
}

std::string Decoder::shortstr() {
  const size_t n = u8();
  if (!need(n)) return {};
  std::string s(in_.substr(at_, n));
  at_ += n;
  return s;
}

std::string Decoder::longstr() {
  const size_t n = u32();
  if (!need(n)) return {};
  std::string s(in_.substr(at_, n));
  at_ += n;
  return s;
}

Field Decoder::field_at(int depth) {
  Field f;
  const char type = static_cast<char>(u8());
  if (!ok()) return f;
  using K = Field::Kind;
  switch (type) {
    case 't': return {.kind = K::boolean, .integer = u8() != 0};
    case 'b': return {.kind = K::integer, .integer = static_cast<int8_t>(u8())};
    case 'B': return {.kind = K::integer, .integer = u8()};
    case 's': return {.kind = K::integer, .integer = static_cast<int16_t>(u16())};
    case 'u': return {.kind = K::integer, .integer = u16()};
    case 'I': return {.kind = K::integer, .integer = static_cast<int32_t>(u32())};
    case 'i': return {.kind = K::integer, .integer = u32()};
    case 'l': return {.kind = K::integer, .integer = static_cast<int64_t>(u64())};
    case 'T': return {.kind = K::timestamp, .integer = static_cast<int64_t>(u64())};
    case 'f': return {.kind = K::floating, .floating = std::bit_cast<float>(u32())};
    case 'd': return {.kind = K::floating, .floating = std::bit_cast<double>(u64())};
    case 'D': {
      const int scale = u8();
      const auto value = static_cast<int32_t>(u32());
      double d = value;
      for (int i = 0; i < scale; ++i) d /= 10;
      return {.kind = K::floating, .floating = d};
    }
    case 'S':
    case 'x': return {.kind = K::string, .string = longstr()};
    case 'V': return f;
    case 'F':
      if (depth >= kMaxDepth) break;
      return {.kind = K::table, .table = table_at(depth + 1)};
    case 'A': {
      if (depth >= kMaxDepth) break;
      const size_t n = u32();
      if (!need(n)) return f;
      Decoder inner(in_.substr(at_, n));
      at_ += n;
      f.kind = K::array;
      while (inner.ok() && inner.remaining() > 0) f.array.push_back(inner.field_at(depth + 1));
      if (!inner.ok()) fail("array: " + inner.error());
      return f;
    }
    default:
      fail(fmt::format("unknown field type 0x{:02x}", static_cast<unsigned char>(type)));
      return f;
  }
  fail(fmt::format("tables nested deeper than {}", kMaxDepth));
  return f;
}

Table Decoder::table_at(int depth) {
  Table t;
  const size_t n = u32();
  if (!need(n)) return t;
  Decoder inner(in_.substr(at_, n));
  at_ += n;
  while (inner.ok() && inner.remaining() > 0) {
    std::string key = inner.shortstr();
    Field value = inner.field_at(depth);
    if (inner.ok()) t.push_back({std::move(key), std::move(value)});
  }
  if (!inner.ok()) fail("table: " + inner.error());
  return t;
}

Table Decoder::table() { return table_at(0); }

Properties Decoder::properties() {
  Properties p;
  uint16_t flags = u16();
  if (flags & 1) {  // a continuation word: no Basic property lives there
    fail("property flags continue past the Basic properties");
    return p;
  }
  if (flags & kContentType) p.content_type = shortstr();
  if (flags & kContentEncoding) p.content_encoding = shortstr();
  if (flags & kHeaders) p.headers = table();
  if (flags & kDeliveryMode) p.delivery_mode = u8();
  if (flags & kPriority) p.priority = u8();
  if (flags & kCorrelationId) p.correlation_id = shortstr();
  if (flags & kReplyTo) p.reply_to = shortstr();
  if (flags & kExpiration) p.expiration = shortstr();
  if (flags & kMessageId) p.message_id = shortstr();
  if (flags & kTimestamp) p.timestamp = u64();
  if (flags & kType) p.type = shortstr();
  if (flags & kUserId) p.user_id = shortstr();
  if (flags & kAppId) p.app_id = shortstr();
  if (flags & kClusterId) shortstr();  // deprecated; read past it
  return p;
}

void append_frame(std::string& out, FrameType type, uint16_t channel, std::string_view payload) {
  Encoder e(out);
  e.u8(static_cast<uint8_t>(type)).u16(channel).u32(static_cast<uint32_t>(payload.size()));
  out.append(payload);
  e.u8(kFrameEnd);
}

void FrameDecoder::feed(std::string_view bytes) {
  if (!error_.empty()) return;
  if (consumed_ > 0 && consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  } else if (consumed_ > (1 << 16) && consumed_ * 2 > buffer_.size()) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

core::Result<std::optional<Frame>> FrameDecoder::next() {
  if (!error_.empty()) return core::fail(core::Errc::invalid_payload, error_);
  const std::string_view rest = std::string_view(buffer_).substr(consumed_);
  if (rest.size() < 7) return std::nullopt;
  Decoder head(rest.substr(0, 7));
  const uint8_t type = head.u8();
  const uint16_t channel = head.u16();
  const uint32_t size = head.u32();
  if (type != 1 && type != 2 && type != 3 && type != 8) {
    // "AMQP" back: the server refused our protocol version.
    error_ = rest.starts_with("AMQP") ? "the server does not speak AMQP 0-9-1"
                                      : fmt::format("unknown frame type {}", type);
    return core::fail(core::Errc::invalid_payload, error_);
  }
  if (size + kFrameOverhead > frame_max_) {
    error_ = fmt::format("a frame of {} bytes exceeds frame_max {}", size + kFrameOverhead, frame_max_);
    return core::fail(core::Errc::invalid_payload, error_);
  }
  if (rest.size() < size + kFrameOverhead) return std::nullopt;
  if (static_cast<uint8_t>(rest[7 + size]) != kFrameEnd) {
    error_ = fmt::format("frame of type {} on channel {} does not end in 0xCE", type, channel);
    return core::fail(core::Errc::invalid_payload, error_);
  }
  Frame f{.type = static_cast<FrameType>(type), .channel = channel, .payload = std::string(rest.substr(7, size))};
  consumed_ += size + kFrameOverhead;
  return f;
}

}  // namespace sluice::amqp
