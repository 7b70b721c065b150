// `sluice demo`: the engine end to end with no external service. Generated
// alerts go through the durable embedded queue to a rate-limited output,
// with live counts, then a short report.
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include "alerts/api.h"
#include "cli/commands.h"
#include "components/component_list.h"
#include "config/config.h"
#include "logging/log.h"
#include "metrics/metrics.h"
#include "runtime/engine.h"

namespace sluice::cli {

namespace {

std::string demo_config(const DemoOptions& o, const std::string& dir) {
  return fmt::format(R"(
data_dir: {dir}
admin: {{address: "{admin}"}}
log: {{level: warn}}
rate_limits:
  provider: {{rate: {rate}/s, burst: 10}}
pipelines:
  enqueue_alert:
    input:
      generate: {{count: {count}, template: '{{"to":"{{{{phone}}}}","body":"Test alert {{{{seq}}}}"}}'}}
    output:
      queue: {{name: outbound}}
  send:
    input:
      queue: {{name: outbound}}
    processors:
      - mapping: {{set: {{channel: sms}}}}
    output:
      file: {{path: {dir}/sent.jsonl}}
      rate_limit: provider
      max_in_flight: 16
)",
                     fmt::arg("dir", dir), fmt::arg("admin", o.admin), fmt::arg("rate", o.rate),
                     fmt::arg("count", o.recipients));
}

uint64_t counter(metrics::Registry& m, const char* name, const metrics::Labels& labels) {
  return m.counter(name, "", labels).value();
}

}  // namespace

int demo_command(const DemoOptions& o) {
  const std::string dir = (std::filesystem::temp_directory_path() / fmt::format("sluice-demo-{}", ::getpid())).string();
  std::filesystem::remove_all(dir);
  auto cfg = config::load_string(demo_config(o, dir), "<demo>", components::component_list());
  if (!cfg) {
    std::cerr << cfg.error().to_string();
    return 1;
  }
  logging::setup(cfg->log_level, cfg->log_format);
  runtime::Engine engine(*cfg, components::component_list(), alerts::install_alert_api);
  std::cout << fmt::format("sluice demo: {} messages -> durable queue -> rate-limited output at {}/s\n", o.recipients,
                           o.rate)
            << fmt::format("  data in {}; metrics at http://{}/metrics\n", dir, engine.admin_address());
  int code = 0;
  std::thread runner([&] { code = engine.run(); });

  auto& m = engine.metrics();
  const auto start = std::chrono::steady_clock::now();
  const bool tty = ::isatty(STDOUT_FILENO);
  uint64_t sent = 0, last_sent = 0;
  auto last = start;
  while (sent < static_cast<uint64_t>(o.recipients)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(tty ? 250 : 1000));
    const uint64_t queued = counter(m, "sluice_output_sent_total", {{"pipeline", "enqueue_alert"}, {"component", "queue"}});
    sent = counter(m, "sluice_output_sent_total", {{"pipeline", "send"}, {"component", "file"}});
    const auto now = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(now - last).count();
    const double rate = dt > 0 ? static_cast<double>(sent - last_sent) / dt : 0;
    last = now;
    last_sent = sent;
    std::cout << fmt::format("{}  enqueued {:>7}/{}  sent {:>7}/{}  {:>7.1f} msg/s{}", tty ? "\r" : "", queued,
                             o.recipients, sent, o.recipients, rate, tty ? "" : "\n")
              << std::flush;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  engine.request_stop();
  runner.join();
  std::cout << fmt::format("\n\nsent {} messages in {:.2f}s: {:.1f} msg/s against a limit of {}/s\n", sent, seconds,
                           static_cast<double>(sent) / seconds, o.rate);
  std::filesystem::remove_all(dir);
  return code;
}

}  // namespace sluice::cli
