#include "ledger/resend.h"

#include <algorithm>

namespace sluice::ledger {

bool ResendPolicy::covers(std::string_view code) const {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

std::string ResendPolicy::codes_text() const {
  std::string out;
  for (const auto& c : codes) out += (out.empty() ? "" : ",") + c;
  return out;
}

std::vector<std::string> ResendPolicy::codes_from_text(std::string_view text) {
  std::vector<std::string> out;
  for (size_t at = 0; at < text.size();) {
    const size_t comma = std::min(text.find(',', at), text.size());
    if (comma > at) out.emplace_back(text.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

int64_t validity_seconds(int64_t created_ms, int64_t window_ms, int64_t now_ms) {
  const int64_t left_s = (created_ms + window_ms - now_ms) / 1000;
  return left_s < 1 ? 0 : std::min(left_s, kMaxValiditySeconds);
}

}  // namespace sluice::ledger
