#include "runtime/engine.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include <thread>

#include "admin/server.h"
#include "core/health.h"
#include "logging/log.h"
#include "metrics/metrics.h"
#include "ratelimit/rate_limit.h"
#include "runtime/build_context.h"
#include "runtime/pipeline.h"

namespace sluice::runtime {

namespace asio = boost::asio;

namespace {
// An io_context that can destroy its queued work (and with it every
// suspended coroutine) before the I/O objects those coroutines use go away.
// execution_context::shutdown() is what ~io_context calls first anyway, and
// a second call finds nothing left to do.
class EngineContext final : public asio::io_context {
 public:
  using io_context::io_context;
  void destroy_pending_work() { shutdown(); }
};
}  // namespace

struct Engine::Impl {
  Impl(const config::Config& c, const config::Registry&, const AdminExtension& extend, const core::Clock& clock)
      : cfg(c),
        threads(c.threads > 0 ? static_cast<int>(c.threads)
                              : std::max(1, static_cast<int>(std::thread::hardware_concurrency()))),
        io_owner(std::make_unique<EngineContext>(threads)),
        io(*io_owner),
        signals(std::in_place, io, SIGINT, SIGTERM),
        deadline(std::in_place, io),
        ctx(io, c, metrics, [this](const std::string& name) { return find_rate_limit(name); }, clock) {
    for (const auto& rl : c.rate_limits) {
      // The backend the config chose; a registry without backends (unit tests) gets local buckets.
      auto backend = rl.backend.spec ? rl.backend.spec->make_rate_limit_backend(rl.backend.values, rl, ctx)
                                     : ratelimit::make_local_backend(rl.spec, rl.key.has_value(), ctx.clock(),
                                                                     static_cast<size_t>(rl.max_keys));
      rate_limits.push_back(std::make_unique<ratelimit::RateLimit>(rl.name, rl.spec, std::move(backend), rl.key, rl.cost));
    }
    for (const auto& p : c.pipelines) pipelines.push_back(std::make_unique<Pipeline>(p, ctx, threads));
    if (c.admin_enabled) {
      admin = std::make_unique<admin::Server>(io, c.admin_address, c.admin_hosts);
      add_admin_routes();
      if (extend) extend(*admin, ctx);
    }
  }

  ratelimit::RateLimit* find_rate_limit(const std::string& name) {
    for (auto& rl : rate_limits)
      if (rl->name() == name) return rl.get();
    return nullptr;
  }

  void add_admin_routes() {
    admin->route("GET", "/metrics", [this](const admin::Request&) {
      return admin::Response{200, "text/plain; version=0.0.4; charset=utf-8", metrics.render(), {}};
    });
    admin->route("GET", "/health/live", [](const admin::Request&) {
      return admin::Response::json(200, R"({"status":"ok"})");
    });
    admin->route("GET", "/health/ready", [this](const admin::Request&) {
      // Not ready while starting or stopping, or once a fault (a damaged
      // database) makes this process unfit for work: those are named.
      const auto faults = core::faults();
      if (started && !stopping && faults.empty()) return admin::Response::json(200, R"({"status":"ready"})");
      boost::json::array named(faults.begin(), faults.end());
      return admin::Response::json(
          503, boost::json::serialize(boost::json::object{{"status", "not ready"}, {"faults", std::move(named)}}));
    });
    admin->route("GET", "/api/pipelines", [this](const admin::Request&) {
      boost::json::array arr;
      for (const auto& p : pipelines) arr.push_back(p->status());
      boost::json::object rls;
      for (const auto& rl : rate_limits) rls[rl->name()] = rl->describe();
      boost::json::object o{{"pipelines", std::move(arr)}, {"rate_limits", std::move(rls)}};
      return admin::Response::json(200, boost::json::serialize(o));
    });
  }

  void begin_stop() {
    if (stopping.exchange(true)) return;
    logging::info("stopping: inputs closed, draining in-flight messages (up to {}s)",
                 std::chrono::duration_cast<std::chrono::seconds>(cfg.shutdown_timeout).count());
    {
      // Armed before the pipelines stop: one may finish at once, and its
      // pipeline_done() cancels the timer from another thread.
      std::lock_guard lock(deadline_mu);
      deadline->expires_after(cfg.shutdown_timeout);
      deadline->async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        stop_now("shutdown deadline reached");
      });
    }
    for (auto& p : pipelines) p->stop();
  }

  // Cuts the drain short: what is still in flight is nacked as the pending
  // coroutines are destroyed, so its sources deliver it again.
  void stop_now(const char* why) {
    std::string held;
    for (const auto& p : pipelines) {
      const auto status = p->status();
      const int64_t n = status.at("in_flight").to_number<int64_t>();
      if (n > 0) held += fmt::format("{}{} in '{}'", held.empty() ? "" : ", ", n, p->name());
    }
    logging::warn("{}; nacking what is still in flight: {}", why, held.empty() ? "nothing" : held);
    io.stop();
  }

  void pipeline_done() {
    if (--running == 0) {
      logging::info("all pipelines finished");
      signals->cancel();
      {
        std::lock_guard lock(deadline_mu);
        deadline->cancel();
      }
      if (admin) admin->stop();
      io.stop();
    }
  }

  ~Impl() {
    // 1. Suspended coroutines are destroyed, nacking the messages they hold,
    //    while pipelines, stores and metrics are still there to hear it.
    // 2. Then the I/O objects (channels, timers, sockets) go, while their
    //    io_context still exists. 3. Then the io_context.
    admin.reset();
    signals.reset();
    deadline.reset();
    io_owner->destroy_pending_work();
    pipelines.clear();
    rate_limits.clear();
    ctx.release_shared();
    io_owner.reset();
  }

  const config::Config& cfg;
  int threads;
  metrics::Registry metrics;
  std::unique_ptr<EngineContext> io_owner;
  asio::io_context& io;
  std::optional<asio::signal_set> signals;
  std::optional<asio::steady_timer> deadline;
  std::mutex deadline_mu;  // begin_stop and pipeline_done run on different threads
  BuildContext ctx;
  std::vector<std::unique_ptr<ratelimit::RateLimit>> rate_limits;
  std::vector<std::unique_ptr<Pipeline>> pipelines;
  std::unique_ptr<admin::Server> admin;
  std::atomic<int> running{0};
  std::atomic<bool> started{false};
  std::atomic<bool> stopping{false};
};

Engine::Engine(const config::Config& config, const config::Registry& registry, const AdminExtension& extend,
               const core::Clock& clock)
    : impl_(std::make_unique<Impl>(config, registry, extend, clock)) {}

Engine::~Engine() = default;

void Engine::request_stop() {
  asio::post(impl_->io, [impl = impl_.get()] { impl->begin_stop(); });
}

metrics::Registry& Engine::metrics() { return impl_->metrics; }

std::string Engine::admin_address() const { return impl_->admin ? impl_->admin->address() : ""; }

int Engine::run() {
  auto& s = *impl_;
  // The first SIGINT/SIGTERM drains; a second one (an impatient Ctrl-C)
  // stops at once.
  s.signals->async_wait([&s](boost::system::error_code ec, int sig) {
    if (ec) return;
    logging::info("received signal {}; again to stop at once", sig);
    s.signals->async_wait([&s](boost::system::error_code again, int) {
      if (!again) s.stop_now("second signal");
    });
    s.begin_stop();
  });
  if (s.admin) {
    s.admin->start();
    logging::info("admin API on http://{}", s.admin->address());
  }
  s.running = static_cast<int>(s.pipelines.size());
  for (auto& p : s.pipelines) p->start([&s] { s.pipeline_done(); });
  s.started = true;
  logging::info("running {} pipeline(s) on {} thread(s)", s.pipelines.size(), s.threads);

  std::vector<std::thread> pool;
  std::exception_ptr failure;
  std::mutex failure_mu;
  auto run_loop = [&] {
    try {
      s.io.run();
    } catch (...) {
      std::lock_guard lock(failure_mu);
      if (!failure) failure = std::current_exception();
      s.io.stop();
    }
  };
  for (int i = 1; i < s.threads; ++i) pool.emplace_back(run_loop);
  run_loop();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
  // A run that ended on its own (every input exhausted) and lost messages
  // for good, with no dead letter to keep them, says so and exits 3.
  const auto lost = s.ctx.failed_for_good();
  if (!s.stopping && lost.count > 0) {
    std::string reasons;
    for (const auto& r : lost.first_reasons) reasons += "\n  " + r;
    logging::error("{} message(s) failed for good and no dead letter kept them; the first reasons:{}", lost.count,
                   reasons);
    return 3;
  }
  return 0;
}

}  // namespace sluice::runtime
