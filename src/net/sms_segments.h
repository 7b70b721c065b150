#pragma once
// SMS segments of a message body, as carriers count them: GSM-7 when every
// character is in the GSM 03.38 alphabet (160 per single message, 153 per
// part; extension characters like € and { count twice), else UCS-2 (70
// UTF-16 units single, 67 per part).

#include <cstdint>
#include <string_view>

namespace sluice::net::sms {

struct Segments {
  bool gsm7;
  int64_t units;  // septets (GSM-7) or UTF-16 code units (UCS-2)
  int64_t count;
};

Segments count_segments(std::string_view utf8_body);

}  // namespace sluice::net::sms
