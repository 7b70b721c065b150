#include "ratelimit/leases.h"

#include <algorithm>
#include <cmath>

namespace sluice::ratelimit {

void Leases::add(int64_t first_slot_ns, double tokens) {
  if (tokens > 0) blocks_.push_back({static_cast<double>(first_slot_ns), tokens});
}

void Leases::expire(int64_t now_ns) {
  const double oldest = static_cast<double>(now_ns) - tolerance_;
  while (!blocks_.empty()) {
    Block& b = blocks_.front();
    if (b.slot >= oldest) break;
    // Whole tokens whose slot has passed the bound, at most the block.
    const double stale = std::min(b.tokens, std::ceil((oldest - b.slot) / interval_));
    b.tokens -= stale;
    b.slot += stale * interval_;
    expired_ += stale;
    if (b.tokens <= 1e-9) blocks_.pop_front();
  }
}

double Leases::available(int64_t now_ns) {
  expire(now_ns);
  double n = 0;
  for (const auto& b : blocks_) n += b.tokens;
  return n;
}

std::optional<int64_t> Leases::take(double cost, int64_t now_ns) {
  if (available(now_ns) + 1e-9 < cost) return std::nullopt;
  double use = static_cast<double>(now_ns), left = cost;
  while (left > 1e-9) {
    Block& b = blocks_.front();
    const double x = std::min(left, b.tokens);
    // The last token taken here conforms at its slot; a fraction of a
    // token conforms with the whole of it.
    use = std::max(use, b.slot + std::max(0.0, std::ceil(x) - 1) * interval_);
    b.slot += x * interval_;
    b.tokens -= x;
    left -= x;
    if (b.tokens <= 1e-9) blocks_.pop_front();
  }
  return static_cast<int64_t>(use);
}

}  // namespace sluice::ratelimit
