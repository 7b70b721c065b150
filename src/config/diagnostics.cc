#include "config/diagnostics.h"

#include <fmt/format.h>

namespace sluice::config {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0.
size_t utf8_length(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  return n;
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
    } else if (size_t n = c >= 0x80 ? utf8_length(text, i) : 0) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    }
  }
  return out;
}

std::string Diagnostic::to_string() const {
  if (where.line == 0) return fmt::format("{}: error: {}", where.file, message);
  return fmt::format("{}:{}:{}: error: {}", where.file, where.line, where.column, message);
}

ConfigError::ConfigError(Position where, std::string message)
    : std::runtime_error(Diagnostic{where, message}.to_string()), where_(std::move(where)), message_(std::move(message)) {}

void Diagnostics::error(Position where, std::string message) {
  // Messages quote the input, which may be hostile: no control characters
  // or broken UTF-8 reach a terminal.
  if (errors_.size() >= kMaxErrors) {
    ++not_kept_;
    return;
  }
  errors_.push_back({std::move(where), printable(message)});
}

std::string Diagnostics::to_string() const {
  std::string out;
  for (const auto& e : errors_) out += e.to_string() + "\n";
  if (not_kept_ > 0)
    out += fmt::format("{}: error: and {} more error(s) not shown; fix these first\n", errors_.back().where.file,
                       not_kept_);
  return out;
}

}  // namespace sluice::config
