#pragma once
// Counting and cutting UTF-8 text by characters: a limit a person reads
// ("1,600 characters") counts characters, not bytes, and an echo of what a
// client sent is cut between characters, never inside one, and escaped.

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::core {

// Code points in `s` (bytes that do not continue a sequence).
inline size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// At most `max_bytes` of `s`, cut before a character that would not fit whole.
inline std::string clip(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return std::string(s.substr(0, end));
}

// `text` with control characters and bytes that are not well-formed UTF-8
// escaped as \xNN: an echo of hostile input that is safe in a terminal, a
// log line or a JSON string.
std::string printable(std::string_view text);

}  // namespace sluice::core
