// The `redis` rate-limit backend: one limit for a whole fleet of sluice
// processes. The bucket is GCRA in a script on the Redis server, by Redis's
// own clock (hosts' clocks do not matter): its state is one number, the
// theoretical arrival time (TAT) of the next token. A process does not ask
// per message: it leases a block of tokens (`lease` worth of the rate, at
// least one message's cost) in one round trip and hands them out locally at
// their slots (ratelimit/leases.h). Unused tokens expire with their slots,
// so a lease never adds to a later burst.
//
// Redis away: `on_unavailable: wait` answers unavailable, and callers ask
// again with backoff, sending nothing (never a dead letter);
// `on_unavailable: local` falls back to a bucket in this process at
// rate / instances (no burst) until Redis answers again. The tokens other
// processes leased before still run out meanwhile, so for about instances
// x lease after Redis goes the fleet may send up to twice the rate.
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <mutex>

#include "config/config.h"
#include "connectors/redis/redis.h"
#include "connectors/redis/settings.h"
#include "logging/log.h"
#include "metrics/metrics.h"
#include "ratelimit/leases.h"
#include "ratelimit/rate_limit.h"
#include "redis/client.h"
#include "redis/script.h"
#include "runtime/build_context.h"

namespace sluice::connectors {
namespace {

// KEYS[1]: the bucket's TAT, in microseconds. ARGV: the emission interval
// and the burst tolerance (burst x interval) in microseconds, the tokens
// to lease. Leases them whatever the TAT (the caller waits for their
// slots) and returns, as text, when the first one conforms, in
// microseconds from now (negative: already).
const char* const kLease = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local interval, tolerance, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local new_tat = tat + n * interval
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return string.format('%.3f', tat + interval - tolerance - now)
)lua";

class FleetBackend final : public ratelimit::Backend {
 public:
  FleetBackend(const config::Values& v, const config::RateLimitConfig& rl, runtime::BuildContext& ctx)
      : client_(redis_settings::client_for(v, ctx)),
        name_(rl.name),
        prefix_(v.str("prefix") + rl.name),
        interval_ns_(1e9 / rl.spec.per_second),
        tolerance_ns_(rl.spec.burst * interval_ns_),
        block_(std::max(1.0, std::ceil(rl.spec.per_second * std::chrono::duration<double>(v.duration("lease")).count()))),
        clock_(ctx.clock()),
        script_(kLease),
        fallback_(v.str("on_unavailable") == "local"
                      ? ratelimit::make_local_backend(
                            // No burst: the leases others hold still run when Redis goes.
                            {rl.spec.per_second / static_cast<double>(v.integer("instances")), 1.0},
                            rl.key.has_value(), ctx.clock(), static_cast<size_t>(rl.max_keys))
                      : nullptr),
        max_keys_(static_cast<size_t>(rl.max_keys)) {
    const metrics::Labels l = {{"rate_limit", rl.name}};
    leases_taken_ = &ctx.metrics().counter("sluice_rate_limit_leases_total",
                                           "Blocks of tokens leased from the fleet's bucket (one round trip each).", l);
    expired_ = &ctx.metrics().counter("sluice_rate_limit_lease_expired_tokens_total",
                                      "Leased tokens not used before their slot passed the burst, dropped.", l);
    fallbacks_ = &ctx.metrics().counter("sluice_rate_limit_local_fallback_total",
                                        "Reservations served by the local fallback while Redis was away.", l);
  }

  boost::asio::awaitable<core::Result<int64_t>> reserve(std::string key, double cost) override {
    for (;;) {
      bool leasing_elsewhere = false;
      {
        std::lock_guard lock(mu_);
        Bucket& b = bucket(key);
        if (auto use = take(b, cost)) co_return std::max<int64_t>(0, *use - clock_.now_ns());
        leasing_elsewhere = b.fetching;
        b.fetching = true;
      }
      if (leasing_elsewhere) {
        // Another reserver is leasing: wait for its block (a round trip, well under a slot).
        co_await ratelimit::RateLimit::wait(std::chrono::microseconds(500));
        continue;
      }
      auto leased = co_await lease(key, cost);
      if (!leased) {
        {
          std::lock_guard lock(mu_);
          bucket(key).fetching = false;
        }
        if (fallback_) {
          fallbacks_->inc();
          logging::limited(logging::Level::warn, "fleet-rate-limit:" + name_,
                           fmt::format("rate limit '{}': Redis unavailable ({}); limiting locally at rate / instances",
                                       name_, leased.error().detail));
          co_return co_await fallback_->reserve(std::move(key), cost);
        }
        co_return std::unexpected(leased.error());
      }
    }
  }

  std::string describe() const override {
    return fmt::format("redis (GCRA in Redis, leases of {} tokens, key {})", block_, prefix_);
  }

 private:
  struct Bucket {
    ratelimit::Leases leases;
    bool fetching = false;  // one lease at a time per bucket, so leases are never taken twice over
  };

  // One round trip: a block of tokens (or this one cost, if larger) into
  // the bucket's leases. Errc::unavailable when Redis cannot give it.
  boost::asio::awaitable<core::Result<void>> lease(const std::string& key, double cost) {
    const double tokens = std::max(block_, std::ceil(cost));
    std::vector<std::string> keys{key.empty() ? prefix_ : prefix_ + ":" + key};
    std::vector<std::string> args{fmt::format("{:.3f}", interval_ns_ / 1000), fmt::format("{:.3f}", tolerance_ns_ / 1000),
                                  fmt::format("{}", tokens)};
    auto r = co_await script_.run(*client_, std::move(keys), std::move(args));
    const int64_t now = clock_.now_ns();
    if (!r || r->is_error())
      co_return core::fail(core::Errc::unavailable,
                           fmt::format("the fleet's bucket in Redis: {}", r ? r->text : r.error().to_string()));
    leases_taken_->inc();
    const double offset_us = std::strtod(r->text.c_str(), nullptr);
    std::lock_guard lock(mu_);
    Bucket& b = bucket(key);
    b.leases.add(now + static_cast<int64_t>(offset_us * 1000), tokens);
    b.fetching = false;
    co_return core::Result<void>{};
  }

  // Under mu_.
  std::optional<int64_t> take(Bucket& b, double cost) {
    const double expired_before = b.leases.expired();
    auto use = b.leases.take(cost, clock_.now_ns());
    if (b.leases.expired() > expired_before) expired_->inc(static_cast<uint64_t>(b.leases.expired() - expired_before));
    return use;
  }

  // Under mu_. Past max_keys, idle buckets are forgotten (their tokens are
  // lost, never over-spent).
  Bucket& bucket(const std::string& key) {
    auto it = buckets_.find(key);
    if (it != buckets_.end()) return it->second;
    if (buckets_.size() >= max_keys_)
      std::erase_if(buckets_, [](const auto& kv) { return !kv.second.fetching; });
    return buckets_.emplace(key, Bucket{ratelimit::Leases(interval_ns_, tolerance_ns_)}).first->second;
  }

  std::shared_ptr<redis::Client> client_;
  std::string name_, prefix_;
  double interval_ns_, tolerance_ns_, block_;
  const core::Clock& clock_;
  redis::Script script_;
  std::unique_ptr<ratelimit::Backend> fallback_;
  size_t max_keys_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
  metrics::Counter *leases_taken_, *expired_, *fallbacks_;
};

}  // namespace

config::ComponentSpec redis_rate_limit_backend_spec() {
  using config::Type;
  return {
      .name = "redis",
      .kind = config::Kind::rate_limit_backend,
      .summary = "One limit for every sluice process that names the same Redis and limit: GCRA in a script on "
                 "the Redis server, by its clock, with tokens leased in blocks so that one round trip serves a "
                 "block. Honours `key` (a bucket per key) and `cost` (weights). Redis away: callers wait "
                 "(`on_unavailable: wait`, nothing dead-lettered) or limit locally at rate / instances (`local`).",
      .fields = redis_settings::with_connection_fields(
          {{.name = "prefix", .doc = "Redis key prefix; the bucket is <prefix><limit name>[:<key>].",
            .default_value = "sluice:rate:"},
           {.name = "lease", .type = Type::duration,
            .doc = "How much of the rate one lease takes (200ms at 300/s: 60 tokens per round trip). Longer: "
                   "fewer round trips; shorter: a process holds fewer tokens others could use.",
            .default_value = "200ms", .min = 0.001, .max = 60},
           {.name = "on_unavailable", .doc = "While Redis cannot be reached: wait, or limit locally.",
            .default_value = "wait", .choices = {"wait", "local"}},
           {.name = "instances", .type = Type::integer,
            .doc = "Processes sharing the limit, for `on_unavailable: local` (each takes rate / instances).",
            .default_value = "1", .min = 1, .max = 100000}}),
      .example = "rate_limits:\n  sms:\n    rate: 300/s\n    burst: 30\n    redis: {url: \"redis://10.0.0.5:6379\", "
                 "on_unavailable: local, instances: 3}",
      .shorthand_field = "url",
      .validate = redis_settings::validate_connection,
      .make_rate_limit_backend = [](const config::Values& v, const config::RateLimitConfig& rl,
                                    runtime::BuildContext& ctx) -> std::unique_ptr<ratelimit::Backend> {
        return std::make_unique<FleetBackend>(v, rl, ctx);
      },
  };
}

}  // namespace sluice::connectors
