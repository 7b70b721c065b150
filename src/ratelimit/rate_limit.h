#pragma once
// A named rate limit from the config's `rate_limits:` section, as outputs and
// the rate_limit processor use it: `co_await limit.acquire(message)`.
//
// The key and cost templates are evaluated here; the bucket arithmetic lives
// in a Backend, chosen by config through the registry (Kind::
// rate_limit_backend: `local` is a TokenBucket or KeyedBuckets in this
// process; a shared backend keeps one limit for a fleet). A backend
// implements reserve(), and reserve_many() when it can take a whole batch in
// one round trip. Backend errors are transient: the caller retries.
//
// Waiting is a timer on the caller's executor, never a blocked thread.
// Threads: any; backends are thread-safe.

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/message_fwd.h"
#include "ratelimit/token_bucket.h"
#include "template/template.h"

namespace sluice::ratelimit {

class Backend {
 public:
  virtual ~Backend() = default;
  // Takes `cost` tokens from `key`'s bucket (key is empty for an unkeyed
  // limit) and returns the nanoseconds to wait before using them.
  virtual boost::asio::awaitable<core::Result<int64_t>> reserve(std::string key, double cost) = 0;
  struct Take {
    std::string key;
    double cost;
  };
  // The wait of each take, in order; by default one reserve() after another.
  virtual boost::asio::awaitable<core::Result<std::vector<int64_t>>> reserve_many(std::vector<Take> takes);
  virtual std::string describe() const = 0;
};

// Token bucket(s) in this process.
std::unique_ptr<Backend> make_local_backend(RateSpec spec, bool keyed, const core::Clock& clock,
                                            size_t max_keys = 100'000);

class RateLimit {
 public:
  RateLimit(std::string name, RateSpec spec, std::unique_ptr<Backend> backend,
            std::optional<tmpl::Template> key = std::nullopt, std::optional<tmpl::Template> cost = std::nullopt);

  // Takes this message's tokens and waits until they may be used; returns
  // how long it waited. Errors when the cost template does not give a
  // number; a backend that is unavailable is asked again until it answers.
  boost::asio::awaitable<core::Result<core::Nanos>> acquire(const core::Message& m);
  // Takes the tokens without waiting; returns how long the caller must wait
  // before using them. A batch reserves every message, then waits once.
  // `cost`, when given, replaces the cost template (an output that knows).
  boost::asio::awaitable<core::Result<core::Nanos>> reserve(const core::Message& m,
                                                            std::optional<double> cost = std::nullopt);
  // A whole batch: each message's key and cost (`cost(m)` when it gives one,
  // else the cost template), one backend call, one wait for the last token.
  struct BatchReservation {
    std::vector<std::optional<core::Error>> refused;  // per message: no usable cost or key (for good)
    core::Nanos wait{0};
  };
  // Errors are the backend's: transient, reserve again later.
  boost::asio::awaitable<core::Result<BatchReservation>> reserve_batch(
      const core::Batch& batch, const std::function<std::optional<double>(const core::Message&)>& cost);
  // Waits `d` on the caller's executor.
  static boost::asio::awaitable<void> wait(core::Nanos d);
  // The tokens `m` costs (1 without a cost template).
  core::Result<double> cost_of(const core::Message& m) const;

  const std::string& name() const { return name_; }
  const RateSpec& spec() const { return spec_; }
  std::string describe() const { return backend_->describe(); }

 private:
  std::string name_;
  RateSpec spec_;
  std::unique_ptr<Backend> backend_;
  std::optional<tmpl::Template> key_;
  std::optional<tmpl::Template> cost_;
};

}  // namespace sluice::ratelimit
