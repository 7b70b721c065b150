#pragma once
// Bytes as lower-case hex, two digits a byte (digests: SHA-256, MD5).

#include <string>
#include <string_view>

namespace sluice::core {

inline std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

}  // namespace sluice::core
