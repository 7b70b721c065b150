#include "redis/resp.h"

#include <fmt/format.h>

#include <charconv>

namespace sluice::redis {

std::string Reply::describe() const {
  switch (type) {
    case Type::simple:
    case Type::error:
      return text;
    case Type::bulk:
      return text.size() <= 80 ? text : fmt::format("{:.80}...", text);
    case Type::integer:
      return std::to_string(integer);
    case Type::array:
      return fmt::format("[{} elements]", elements.size());
    case Type::null:
      return "(nil)";
  }
  return {};
}

void append_command(std::string& out, const std::vector<std::string_view>& args) {
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (auto a : args) {
    out += '$';
    out += std::to_string(a.size());
    out += "\r\n";
    out += a;
    out += "\r\n";
  }
}

void Decoder::feed(std::string_view bytes) {
  // Drop what complete replies used, now and then, so the buffer does not
  // grow with the connection's life.
  if (consumed_ > 0 && consumed_ >= buffer_.size() / 2) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

core::Result<std::optional<Reply>> Decoder::next() {
  if (!error_.empty()) return core::fail(core::Errc::invalid_payload, error_);
  size_t at = consumed_;
  Reply r;
  switch (parse(at, r, 0)) {
    case Parsed::more:
      return std::optional<Reply>();
    case Parsed::done:
      consumed_ = at;
      return std::optional<Reply>(std::move(r));
    case Parsed::bad:
      break;
  }
  return core::fail(core::Errc::invalid_payload, error_);
}

// One CRLF-terminated line from `at` (a type byte's simple string, error or
// length); a bare CR or LF inside is refused, and so is a line longer than
// any Redis sends.
Decoder::Parsed Decoder::line(size_t& at, std::string_view& out) {
  constexpr size_t kMaxLine = 64 * 1024;
  const size_t end = buffer_.find("\r\n", at);
  if ((end == std::string::npos ? buffer_.size() : end) - at > kMaxLine) {
    error_ = fmt::format("a RESP line longer than {} bytes", kMaxLine);
    return Parsed::bad;
  }
  if (end == std::string::npos) return Parsed::more;
  out = std::string_view(buffer_).substr(at, end - at);
  if (out.find_first_of("\r\n") != std::string_view::npos) {
    error_ = "a bare CR or LF inside a RESP line";
    return Parsed::bad;
  }
  at = end + 2;
  return Parsed::done;
}

Decoder::Parsed Decoder::parse(size_t& at, Reply& out, size_t depth) {
  if (at >= buffer_.size()) return Parsed::more;
  const char kind = buffer_[at];
  size_t p = at + 1;
  std::string_view text;
  if (auto l = line(p, text); l != Parsed::done) return l;
  auto number = [&](int64_t& n) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
      error_ = fmt::format("RESP '{}' with a length or value that is not a number: '{:.40}'", kind, text);
      return false;
    }
    return true;
  };
  switch (kind) {
    case '+':
    case '-':
      out.type = kind == '+' ? Reply::Type::simple : Reply::Type::error;
      out.text = std::string(text);
      break;
    case ':':
      out.type = Reply::Type::integer;
      if (!number(out.integer)) return Parsed::bad;
      break;
    case '_':
      if (!text.empty()) {
        error_ = "RESP null (_) with content";
        return Parsed::bad;
      }
      out.type = Reply::Type::null;
      break;
    case '$': {
      int64_t n = 0;
      if (!number(n)) return Parsed::bad;
      if (n == -1) {
        out.type = Reply::Type::null;
        break;
      }
      if (n < 0 || static_cast<uint64_t>(n) > limits_.max_bulk) {
        error_ = fmt::format("RESP bulk string of {} bytes (the limit is {})", n, limits_.max_bulk);
        return Parsed::bad;
      }
      const size_t len = static_cast<size_t>(n);
      if (buffer_.size() - p < len + 2) return Parsed::more;
      if (buffer_.compare(p + len, 2, "\r\n") != 0) {
        error_ = "RESP bulk string not followed by CRLF";
        return Parsed::bad;
      }
      out.type = Reply::Type::bulk;
      out.text = buffer_.substr(p, len);
      p += len + 2;
      break;
    }
    case '*': {
      int64_t n = 0;
      if (!number(n)) return Parsed::bad;
      if (n == -1) {
        out.type = Reply::Type::null;
        break;
      }
      if (n < 0 || static_cast<uint64_t>(n) > limits_.max_elements) {
        error_ = fmt::format("RESP array of {} elements (the limit is {})", n, limits_.max_elements);
        return Parsed::bad;
      }
      if (depth + 1 > limits_.max_depth) {
        error_ = fmt::format("RESP arrays nested deeper than {}", limits_.max_depth);
        return Parsed::bad;
      }
      out.type = Reply::Type::array;
      // Each element takes at least 3 bytes: a count beyond what has come
      // is waited for without reserving room for it.
      out.elements.reserve(std::min<size_t>(static_cast<size_t>(n), (buffer_.size() - p) / 3 + 1));
      for (int64_t i = 0; i < n; ++i) {
        Reply element;
        if (auto e = parse(p, element, depth + 1); e != Parsed::done) return e;
        out.elements.push_back(std::move(element));
      }
      break;
    }
    default:
      error_ = fmt::format("not a RESP2 reply: type byte 0x{:02x}", static_cast<unsigned char>(kind));
      return Parsed::bad;
  }
  at = p;
  return Parsed::done;
}

}  // namespace sluice::redis
