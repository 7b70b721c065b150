#pragma once
// What a component's factory gets to build itself: the io_context, config,
// metrics, clock, rate limits, HTTP clients, and the shared objects and
// resources several components use. Message-free, so files that only build
// things do not rebuild when the message type changes.
//
// Threads: a factory runs on the thread that builds the engine; shared() and
// resource() lock, so a resource may be built from any thread.

#include <any>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "core/clock.h"

namespace boost::asio {
class io_context;
}
namespace sluice::config {
struct Config;
class Values;
}
namespace sluice::metrics {
class Registry;
}
namespace sluice::ratelimit {
class RateLimit;
}
namespace sluice::net {
class HttpTransport;
struct HttpClientOptions;
}

namespace sluice::runtime {

// A shared client built from one entry of `resources` (an HTTP pool, later a
// Redis or AMQP connection): built once, on first use, and shared by every
// component that names it. Lives until the engine releases shared objects.
class Resource {
 public:
  virtual ~Resource() = default;
};

// What a factory may use while building a component.
class BuildContext {
 public:
  BuildContext(boost::asio::io_context& io, const config::Config& config, metrics::Registry& metrics,
               std::function<ratelimit::RateLimit*(const std::string&)> rate_limits,
               const core::Clock& clock = core::SteadyClock::instance());

  boost::asio::io_context& io() { return io_; }
  const config::Config& config() const { return config_; }
  metrics::Registry& metrics() { return metrics_; }
  // What leases, retries, batching periods and rate limits measure time by.
  const core::Clock& clock() const { return clock_; }
  ratelimit::RateLimit* rate_limit(const std::string& name) { return rate_limits_(name); }

  // The HTTP client a component talks through (net::HttpClient unless a
  // test installed a fake with set_http_client_factory).
  using HttpClientFactory = std::function<std::shared_ptr<net::HttpTransport>(const net::HttpClientOptions&)>;
  std::shared_ptr<net::HttpTransport> http_client(const net::HttpClientOptions& options);
  void set_http_client_factory(HttpClientFactory f) { http_factory_ = std::move(f); }

  // The resource resources.<kind>.<name>, built on first use. The loader has
  // checked that it exists; throws std::runtime_error if it does not.
  std::shared_ptr<Resource> resource(const std::string& kind, const std::string& name);
  template <class T>
  std::shared_ptr<T> resource(const std::string& kind, const std::string& name) {
    auto r = std::dynamic_pointer_cast<T>(resource(kind, name));
    if (!r) throw std::runtime_error("resource " + kind + " '" + name + "' is not of the kind its user expects");
    return r;
  }
  const std::string& pipeline() const { return pipeline_; }
  void set_pipeline(std::string name) { pipeline_ = std::move(name); }

  // One object per key shared by every component that asks (e.g. one
  // embedded queue store per data_dir, one client per broker).
  // Recursive lock: building one shared object (a resource) may ask for another.
  template <class T>
  std::shared_ptr<T> shared(const std::string& key, const std::function<std::shared_ptr<T>()>& make) {
    std::lock_guard lock(mu_);
    auto& slot = shared_[key];
    if (!slot.has_value()) slot = make();
    return std::any_cast<std::shared_ptr<T>>(slot);
  }
  // Messages that failed for good with no dead letter to take them (their
  // source was nacked as rejected), and the first reasons: a finite run
  // that had any exits 3 with this summary.
  struct FailedForGood {
    int64_t count = 0;
    std::vector<std::string> first_reasons;
  };
  void note_failed_for_good(size_t n, const std::string& reason) {
    std::lock_guard lock(mu_);
    failed_.count += static_cast<int64_t>(n);
    if (failed_.first_reasons.size() < 5) failed_.first_reasons.push_back(reason);
  }
  FailedForGood failed_for_good() {
    std::lock_guard lock(mu_);
    return failed_;
  }

  // Drops the shared objects (after every component is gone).
  void release_shared() {
    std::map<std::string, std::any> gone;
    {
      std::lock_guard lock(mu_);
      gone.swap(shared_);
    }
  }

 private:
  boost::asio::io_context& io_;
  const config::Config& config_;
  metrics::Registry& metrics_;
  std::function<ratelimit::RateLimit*(const std::string&)> rate_limits_;
  const core::Clock& clock_;
  HttpClientFactory http_factory_;
  std::string pipeline_;
  std::recursive_mutex mu_;
  std::map<std::string, std::any> shared_;
  FailedForGood failed_;
};

// A spec's factory when the component is built from its values (and the
// context, if its constructor takes it): `.make_input = build<HttpServerInput>`.
template <class T>
std::unique_ptr<T> build(const config::Values& v, BuildContext& ctx) {
  if constexpr (std::is_constructible_v<T, const config::Values&, BuildContext&>)
    return std::make_unique<T>(v, ctx);
  else
    return std::make_unique<T>(v);
}

}  // namespace sluice::runtime
