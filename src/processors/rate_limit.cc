// rate_limit processor: each message waits for a token of a named rate
// limit before it moves on. Prefer an output's `rate_limit`, which also
// limits retries; this one paces processing itself.
#include <fmt/format.h>

#include "processors/processors.h"
#include "ratelimit/rate_limit.h"
#include "runtime/component.h"

namespace sluice::processors {
namespace {

class RateLimitProcessor final : public runtime::Processor {
 public:
  explicit RateLimitProcessor(ratelimit::RateLimit& limit) : limit_(limit) {}

  runtime::Task<void> process(core::Batch& batch, std::vector<runtime::Failure>& failures) override {
    // Waiting happens here, between messages; retain() only sorts them.
    std::vector<bool> ok;
    ok.reserve(batch.size());
    for (auto& m : batch.messages) {
      auto waited = co_await limit_.acquire(m);
      if (!waited) failures.push_back({std::move(m), waited.error()});
      ok.push_back(waited.has_value());
    }
    size_t i = 0;
    batch.retain([&](core::Message&) { return ok[i++]; });
  }

 private:
  ratelimit::RateLimit& limit_;
};

}  // namespace

config::ComponentSpec rate_limit_spec() {
  return {
      .name = "rate_limit",
      .kind = config::Kind::processor,
      .summary = "Each message waits (asynchronously) for a token of the named rate limit before moving on.",
      .fields = {{.name = "resource", .doc = "Name of a rate limit in rate_limits.", .required = true,
                  .names_rate_limit = true}},
      .example = "processors:\n  - rate_limit: {resource: provider}",
      .make_processor = [](const config::Values& v, runtime::BuildContext& ctx) -> std::unique_ptr<runtime::Processor> {
        auto* limit = ctx.rate_limit(v.str("resource"));
        if (!limit)
          throw v.error("resource", fmt::format("rate limit '{}' is not defined in rate_limits", v.str("resource")));
        return std::make_unique<RateLimitProcessor>(*limit);
      },
  };
}

}  // namespace sluice::processors
