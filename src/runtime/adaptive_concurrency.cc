#include "runtime/adaptive_concurrency.h"

#include <algorithm>
#include <cmath>

namespace sluice::runtime {

namespace {
// Shortest window: a very fast peer would otherwise move the limit on noise.
constexpr double kMinWindowNs = 1e6;
}  // namespace

AdaptiveConcurrency::AdaptiveConcurrency(AdaptiveConcurrencyOptions options)
    : options_(options), limit_(std::clamp<size_t>(options.initial, 1, std::max<size_t>(1, options.max))) {}

size_t AdaptiveConcurrency::start() {
  std::lock_guard lock(mu_);
  issued_ = limit_;
  return limit_;
}

void AdaptiveConcurrency::began() {
  std::lock_guard lock(mu_);
  ++in_use_;
  if (in_use_ >= limit_) window_saturated_ = true;
}

size_t AdaptiveConcurrency::finished(int64_t now_ns, core::Nanos rtt, bool overloaded) {
  std::lock_guard lock(mu_);
  if (in_use_ > 0) --in_use_;
  if (window_start_ns_ < 0) window_start_ns_ = now_ns - rtt.count();
  window_rtt_sum_ += static_cast<double>(rtt.count());
  ++window_writes_;
  window_overloaded_ = window_overloaded_ || overloaded;
  // An overload answer shrinks the limit at once (at most once per
  // round-trip, like TCP), so refusals do not pile up for a whole window.
  const double window_ns = std::max(mean_rtt_, kMinWindowNs);
  const bool may_shrink_now = overloaded && static_cast<double>(now_ns - last_decrease_ns_) >= window_ns;
  if (may_shrink_now || static_cast<double>(now_ns - window_start_ns_) >= window_ns) end_window(now_ns);
  // The permit this write held comes back, unless the limit shrank below
  // what is issued; after growth one more goes out.
  if (issued_ > 0) --issued_;
  const size_t give = limit_ > issued_ ? limit_ - issued_ : 0;
  issued_ += give;
  return give;
}

void AdaptiveConcurrency::end_window(int64_t now_ns) {
  const double rtt = window_rtt_sum_ / static_cast<double>(window_writes_);
  if (mean_rtt_ == 0) mean_rtt_ = rtt;
  const bool rtt_rising = rtt_deviation_ > 0 && rtt > mean_rtt_ + options_.rtt_deviation_scale * rtt_deviation_;
  if (window_overloaded_ || rtt_rising) {
    limit_ = std::max<size_t>(1, static_cast<size_t>(std::floor(static_cast<double>(limit_) * options_.decrease_ratio)));
    last_decrease_ns_ = now_ns;
  } else if (window_saturated_ && rtt <= mean_rtt_ && limit_ < options_.max) {
    // Grow only on evidence: the limit was in use, and round-trips are not
    // above their long-run mean (a queue at the peer would raise them).
    ++limit_;
  }
  // Refusals come back fast; they say nothing about the round-trip of work.
  if (!window_overloaded_) {
    const double a = options_.ewma_alpha;
    rtt_deviation_ = a * std::abs(rtt - mean_rtt_) + (1 - a) * rtt_deviation_;
    mean_rtt_ = a * rtt + (1 - a) * mean_rtt_;
  }
  window_start_ns_ = now_ns;
  window_rtt_sum_ = 0;
  window_writes_ = 0;
  window_overloaded_ = false;
  window_saturated_ = in_use_ >= limit_;
}

size_t AdaptiveConcurrency::limit() const {
  std::lock_guard lock(mu_);
  return limit_;
}

}  // namespace sluice::runtime
