#include "net/sms_segments.h"

#include <string>

namespace sluice::net::sms {
namespace {

// Decodes the next UTF-8 code point; invalid bytes count as U+FFFD.
char32_t next_code_point(std::string_view s, size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    ++i;
    return 0xfffd;
  }
  char32_t cp = n == 1 ? c : c & (0xff >> (n + 1));
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
  i += n;
  return cp;
}

// GSM 03.38 basic set (1 septet) and extension table (2 septets).
int gsm_septets(char32_t cp) {
  static const std::u32string basic =
      U"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
      U"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  static const std::u32string extension = U"^{}\\[~]|€\f";
  if (basic.find(cp) != std::u32string::npos) return 1;
  if (extension.find(cp) != std::u32string::npos) return 2;
  return 0;
}

}  // namespace

Segments count_segments(std::string_view body) {
  int64_t septets = 0, utf16 = 0;
  bool gsm = true;
  for (size_t i = 0; i < body.size();) {
    const char32_t cp = next_code_point(body, i);
    const int s = gsm_septets(cp);
    if (s == 0) gsm = false;
    septets += s;
    utf16 += cp > 0xffff ? 2 : 1;
  }
  if (gsm) return {true, septets, septets <= 160 ? 1 : (septets + 152) / 153};
  return {false, utf16, utf16 <= 70 ? 1 : (utf16 + 66) / 67};
}

}  // namespace sluice::net::sms
