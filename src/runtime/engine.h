#pragma once
// Runs a loaded config: builds the rate limits and pipelines, runs them on a
// pool of threads (one io_context), serves the admin API, and shuts down on
// SIGINT/SIGTERM: inputs stop, in-flight work drains within
// shutdown_timeout, whatever is left is nacked, exit 0.
//
// Lifecycle: construct (throws config::ConfigError for settings only a
// component can check), run() once. Threads: run() blocks the caller and
// uses config.threads more.

#include <functional>
#include <memory>

#include "config/config.h"
#include "core/clock.h"

namespace sluice::metrics {
class Registry;
}
namespace sluice::admin {
class Server;
}

namespace sluice::runtime {

class BuildContext;
// Adds routes to the admin server from modules the runtime does not know
// (the alert API); runs once, after the pipelines are built.
using AdminExtension = std::function<void(admin::Server&, BuildContext&)>;

class Engine {
 public:
  // `clock`: what components measure time by (tests pass a ManualClock).
  Engine(const config::Config& config, const config::Registry& registry, const AdminExtension& extend = {},
         const core::Clock& clock = core::SteadyClock::instance());
  ~Engine();
  // Returns the process exit code: 0 after a clean drain or exhaustion; 3
  // when every input was exhausted but some message failed for good with no
  // dead letter (a summary with the first reasons is logged).
  int run();
  // As if SIGTERM arrived; callable from any thread.
  void request_stop();
  metrics::Registry& metrics();
  // host:port the admin API is bound to ("" when disabled).
  std::string admin_address() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::runtime
