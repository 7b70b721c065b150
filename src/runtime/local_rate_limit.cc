#include "runtime/local_rate_limit.h"

#include "config/config.h"
#include "core/clock.h"
#include "ratelimit/rate_limit.h"
#include "runtime/build_context.h"

namespace sluice::runtime {

config::ComponentSpec local_rate_limit_spec() {
  return {
      .name = "local",
      .kind = config::Kind::rate_limit_backend,
      .summary = "Buckets in this process (lock-free GCRA; with `key`, one bucket per key, bounded by max_keys). "
                 "The default when a rate limit names no backend. Each sluice process has its own: for one limit "
                 "across several processes, use a shared backend.",
      .example = "rate_limits:\n  provider: {rate: 100/s, burst: 10}        # local\n"
                 "  provider_explicit: {rate: 100/s, local: {}}",
      .make_rate_limit_backend = [](const config::Values&, const config::RateLimitConfig& rl,
                                    BuildContext& ctx) -> std::unique_ptr<ratelimit::Backend> {
        return ratelimit::make_local_backend(rl.spec, rl.key.has_value(), ctx.clock(),
                                             static_cast<size_t>(rl.max_keys));
      },
  };
}

}  // namespace sluice::runtime
