#pragma once
// What the fuzz targets assert beside "no crash, no sanitizer report": a
// broken promise prints what was promised and aborts, which libFuzzer
// reports as a crash with the input that caused it.

#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace sluice::fuzz {

[[noreturn]] inline void broken(const char* promise, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz: broken promise: %s\n  %.*s\n", promise, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

inline void check(bool ok, const char* promise, std::string_view detail = {}) {
  if (!ok) broken(promise, detail);
}

// Well-formed UTF-8: no stray continuation bytes, no truncated, overlong or
// surrogate sequences.
inline bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    char32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    const char32_t min = n == 1 ? 0 : n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

// Text meant for a terminal or a log: valid UTF-8 and no control
// characters but line breaks, so an echo of hostile input cannot move the
// cursor or forge a line.
inline bool printable_text(std::string_view s) {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\n') || c == 0x7F) return false;
  return valid_utf8(s);
}

// For stream decoders: the first byte chooses how the rest is cut into reads;
// `decode(bytes, step)` returns what it decoded and whether the stream
// failed, and neither may depend on how the bytes were cut.
template <class Decode>
void check_cut_invariance(const uint8_t* data, size_t size, Decode decode, const char* promise) {
  if (size == 0) return;
  const size_t step = 1 + data[0] % 16;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto whole = decode(bytes, bytes.size() + 1);
  const auto cut = decode(bytes, step);
  check(whole.second == cut.second, "failing does not depend on how the bytes are cut");
  check(whole.first == cut.first, promise);
}

}  // namespace sluice::fuzz
