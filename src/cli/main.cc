// sluice: moves messages between queues, webhooks and HTTP APIs, fast, at a
// controlled rate, without losing any. See README.md.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "cli/did_you_mean.h"
#include "provider_sim/provider_sim.h"

// jemalloc reads this at start when it is linked (CMakeLists.txt). Freed
// pages go back to the kernel after a few seconds from a background thread:
// without it jemalloc purges only while allocating, so an idle daemon kept
// the ~190 MB of a 20,000-connection burst. MALLOC_CONF still overrides it.
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "background_thread:true,dirty_decay_ms:5000,muzzy_decay_ms:0";
}

int main(int argc, char** argv) {
  CLI::App app{"sluice: move messages between queues, webhooks and HTTP APIs at a controlled rate, losing none."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sluice 0.1.0");

  std::string config = "sluice.yaml";
  auto* run = app.add_subcommand("run", "Run every pipeline in a config until SIGINT/SIGTERM or until inputs end.");
  run->add_option("-c,--config", config, "Config file")->capture_default_str();
  std::string log_level;
  run->add_option("--log-level", log_level, "Log level, instead of the config's log.level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  std::vector<std::string> lint_files;
  auto* lint = app.add_subcommand("lint", "Validate config files; prints FILE:LINE:COL: error: ... (exit 2 on errors).");
  lint->add_option("files", lint_files, "Config files")->required();

  std::string topic;
  auto* docs = app.add_subcommand("docs", "Print the reference for every component, or for one.");
  docs->add_option("topic", topic, "Component or section (config, pipeline, input, output, rate_limits)");

  sluice::cli::DemoOptions demo_opts;
  auto* demo = app.add_subcommand("demo", "The alert story on one machine: provider-sim, queue, webhook, ledger, dashboard.");
  demo->add_option("--recipients", demo_opts.recipients, "Messages to send")->check(CLI::Range(1, 10'000'000))->capture_default_str();
  demo->add_option("--rate", demo_opts.rate, "Send rate per second")->check(CLI::Range(0.1, 1e7))->capture_default_str();
  demo->add_option("--admin", demo_opts.admin, "Admin address (host:port; port 0 picks one)")->capture_default_str();
  demo->add_flag("--exit", demo_opts.exit_when_done, "Exit after the report instead of keeping the dashboard up");
  demo->add_option("--data-dir", demo_opts.data_dir, "Keep data here; an interrupted demo resumes from it");
  demo->add_option("--provider", demo_opts.provider, "Use this provider-sim (its defaults) instead of starting one");

  sluice::cli::AlertOptions alert_opts;
  if (const char* t = std::getenv("SLUICE_ADMIN_TOKEN")) alert_opts.token = t;
  int64_t alert_timeout_s = 3600;
  auto* alert = app.add_subcommand("alert", "Send an alert and follow it, or print an alert's report.");
  alert->require_subcommand(1);
  auto add_admin = [&](CLI::App* cmd) {
    cmd->add_option("--admin", alert_opts.admin, "Admin API: a URL or host:port")->capture_default_str();
    cmd->add_option("--token", alert_opts.token, "Bearer token (default: $SLUICE_ADMIN_TOKEN)");
  };
  auto* alert_send = alert->add_subcommand("send", "Send one message to every recipient; prints the alert id.");
  alert_send->add_option("--recipients", alert_opts.recipients_file, "CSV file, numbers in the first column")->required();
  alert_send->add_option("--body", alert_opts.body, "Message text")->required();
  alert_send->add_option("--from", alert_opts.from, "Sender (default: the config's alerts.from)");
  alert_send->add_flag("--skip-invalid", alert_opts.skip_invalid,
                       "Send to the good numbers and list the rows refused, instead of refusing the alert");
  alert_send->add_flag("--wait", alert_opts.wait,
                       "Show progress until every recipient has a final status, then print the report. Exit "
                       "status: 0 all delivered, 3 finished with some not delivered, 1 gave up (--timeout)");
  alert_send->add_option("--timeout", alert_timeout_s, "Seconds --wait waits at most")->capture_default_str();
  add_admin(alert_send);
  auto* alert_status = alert->add_subcommand("status", "Print an alert's report.");
  alert_status->add_option("id", alert_opts.id, "Alert id")->required();
  alert_status->add_flag("--json", alert_opts.json, "Print the JSON report");
  add_admin(alert_status);

  sluice::provider_sim::Options sim;
  int64_t latency_ms = 0, delivery_delay_ms = 200;
  auto* provider = app.add_subcommand("provider-sim", "Run a Twilio-compatible SMS provider simulator.");
  provider->add_option("--address", sim.address, "host:port to listen on")->capture_default_str();
  provider->add_option("--account-sid", sim.account_sid, "Account SID (AC + 32 characters)")->capture_default_str();
  provider->add_option("--auth-token", sim.auth_token, "Auth token: Basic auth password and callback signing key");
  provider->add_option("--mps", sim.mps, "Sends per second per sender")->check(CLI::PositiveNumber)->capture_default_str();
  provider->add_option("--queue-size", sim.queue_size, "Queued messages per sender before 400/21611")->check(CLI::PositiveNumber)->capture_default_str();
  provider->add_option("--max-concurrency", sim.max_concurrency, "Account requests in progress before 429/20429")->check(CLI::PositiveNumber)->capture_default_str();
  provider->add_option("--latency-ms", latency_ms, "Added to every API response")->check(CLI::NonNegativeNumber);
  provider->add_option("--error-rate", sim.error_rate, "Share of requests answered 500")->check(CLI::Range(0.0, 1.0));
  provider->add_option("--throttle-rate", sim.throttle_rate, "Share of requests answered 429")->check(CLI::Range(0.0, 1.0));
  provider->add_option("--undelivered", sim.p_undelivered, "Share of messages ending undelivered")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  provider->add_option("--failed", sim.p_failed, "Share of messages ending failed")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  provider->add_option("--first-attempt-undelivered", sim.first_attempt_undelivered,
                       "Share of first attempts to a number ending undelivered (30003) while the same text sent again "
                       "is delivered; replaces --undelivered and --failed (to test resends)")
      ->check(CLI::Range(0.0, 1.0));
  provider->add_option("--delivery-delay-ms", delivery_delay_ms, "Mean time from sent to the final status")->check(CLI::NonNegativeNumber)->capture_default_str();
  provider->add_option("--reorder", sim.reorder, "Share of callbacks held back to arrive out of order")->check(CLI::Range(0.0, 1.0));
  provider->add_option("--duplicates", sim.duplicates, "Share of callbacks sent twice")->check(CLI::Range(0.0, 1.0));
  provider->add_option("--seed", sim.seed, "Random seed")->capture_default_str();
  provider->add_option("--state", sim.state,
                       "Journal file: messages and statuses survive a restart (even kill -9); unfinished ones resume");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    std::cerr << sluice::cli::did_you_mean(app, std::vector<std::string>(argv + 1, argv + argc));
    return code == 0 ? 0 : 2;
  }
  try {
    if (*run) return sluice::cli::run_command(config, log_level);
    if (*lint) return sluice::cli::lint_command(lint_files);
    if (*docs) return sluice::cli::docs_command(topic);
    if (*demo) return sluice::cli::demo_command(demo_opts);
    alert_opts.timeout = std::chrono::seconds(alert_timeout_s);
    if (*alert_send) return sluice::cli::alert_send_command(alert_opts);
    if (*alert_status) return sluice::cli::alert_status_command(alert_opts);
    if (*provider) {
      sim.latency = std::chrono::milliseconds(latency_ms);
      sim.delivery_delay = std::chrono::milliseconds(delivery_delay_ms);
      if (sim.p_failed + sim.p_undelivered > 1) {
        std::cerr << "sluice provider-sim: --failed + --undelivered must not exceed 1\n";
        return 2;
      }
      return sluice::provider_sim::run(sim);
    }
  } catch (const std::exception& e) {
    std::cerr << "sluice: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
