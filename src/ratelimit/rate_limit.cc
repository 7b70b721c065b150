#include "ratelimit/rate_limit.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <charconv>

#include "core/message.h"
#include "ratelimit/keyed_buckets.h"

namespace sluice::ratelimit {
namespace {

class LocalBackend final : public Backend {
 public:
  LocalBackend(RateSpec spec, bool keyed, const core::Clock& clock, size_t max_keys) : spec_(spec) {
    if (keyed) {
      keyed_.emplace(spec, clock, max_keys);
    } else {
      single_.emplace(spec, clock);
    }
  }
  boost::asio::awaitable<core::Result<int64_t>> reserve(std::string key, double cost) override {
    co_return keyed_ ? keyed_->reserve(key, cost) : single_->reserve(cost);
  }
  std::string describe() const override {
    return fmt::format("local {} bucket, {}/s, burst {}", keyed_ ? "keyed" : "single", spec_.per_second, spec_.burst);
  }

 private:
  RateSpec spec_;
  std::optional<TokenBucket> single_;
  std::optional<KeyedBuckets> keyed_;
};

}  // namespace

boost::asio::awaitable<core::Result<std::vector<int64_t>>> Backend::reserve_many(std::vector<Take> takes) {
  std::vector<int64_t> waits;
  waits.reserve(takes.size());
  for (auto& t : takes) {
    auto w = co_await reserve(std::move(t.key), t.cost);
    if (!w) co_return std::unexpected(w.error());
    waits.push_back(*w);
  }
  co_return waits;
}

std::unique_ptr<Backend> make_local_backend(RateSpec spec, bool keyed, const core::Clock& clock, size_t max_keys) {
  return std::make_unique<LocalBackend>(spec, keyed, clock, max_keys);
}

RateLimit::RateLimit(std::string name, RateSpec spec, std::unique_ptr<Backend> backend,
                     std::optional<tmpl::Template> key, std::optional<tmpl::Template> cost)
    : name_(std::move(name)), spec_(spec), backend_(std::move(backend)), key_(std::move(key)), cost_(std::move(cost)) {}

core::Result<double> RateLimit::cost_of(const core::Message& m) const {
  if (!cost_) return 1.0;
  auto text = cost_->render(m);
  if (!text) return std::unexpected(text.error());
  double cost = 0;
  auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), cost);
  if (ec != std::errc() || p != text->data() + text->size() || cost < 0)
    return core::fail(core::Errc::invalid_payload,
                      fmt::format("rate limit '{}': cost '{}' is not a non-negative number", name_, *text));
  return cost;
}

boost::asio::awaitable<core::Result<core::Nanos>> RateLimit::reserve(const core::Message& m,
                                                                     std::optional<double> given) {
  auto cost = given ? core::Result<double>(*given) : cost_of(m);
  if (!cost) co_return std::unexpected(cost.error());
  if (*cost == 0) co_return core::Nanos(0);
  std::string key;
  if (key_) {
    auto k = key_->render(m);
    if (!k) co_return std::unexpected(k.error());
    key = std::move(*k);
  }
  auto wait_ns = co_await backend_->reserve(std::move(key), *cost);
  if (!wait_ns) co_return std::unexpected(wait_ns.error());
  co_return core::Nanos(*wait_ns);
}

boost::asio::awaitable<core::Result<RateLimit::BatchReservation>> RateLimit::reserve_batch(
    const core::Batch& batch, const std::function<std::optional<double>(const core::Message&)>& cost_override) {
  BatchReservation out;
  out.refused.resize(batch.size());
  std::vector<Backend::Take> takes;
  for (size_t i = 0; i < batch.size(); ++i) {
    const auto& m = batch.messages[i];
    auto given = cost_override ? cost_override(m) : std::nullopt;
    auto cost = given ? core::Result<double>(*given) : cost_of(m);
    if (!cost) {
      out.refused[i] = cost.error();
      continue;
    }
    if (*cost == 0) continue;
    std::string key;
    if (key_) {
      auto k = key_->render(m);
      if (!k) {
        out.refused[i] = k.error();
        continue;
      }
      key = std::move(*k);
    }
    takes.push_back({std::move(key), *cost});
  }
  if (takes.empty()) co_return out;
  auto waits = co_await backend_->reserve_many(std::move(takes));
  if (!waits) co_return std::unexpected(waits.error());
  for (int64_t w : *waits) out.wait = std::max(out.wait, core::Nanos(w));
  co_return out;
}

boost::asio::awaitable<void> RateLimit::wait(core::Nanos d) {
  if (d.count() <= 0) co_return;
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, d);
  co_await timer.async_wait(boost::asio::use_awaitable);
}

boost::asio::awaitable<core::Result<core::Nanos>> RateLimit::acquire(const core::Message& m) {
  // A backend that cannot be asked (a shared limiter away) is transient:
  // asked again, the message waiting, never failed for it.
  for (int attempt = 0;; ++attempt) {
    auto d = co_await reserve(m);
    if (d) {
      co_await wait(*d);
      co_return d;
    }
    if (!d.error().is(core::Errc::unavailable)) co_return d;
    co_await wait(std::chrono::milliseconds(std::min(50 << std::min(attempt, 7), 5000)));
  }
}

}  // namespace sluice::ratelimit
