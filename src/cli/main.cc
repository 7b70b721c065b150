// sluice: moves messages between queues, webhooks and HTTP APIs, fast, at a
// controlled rate, without losing any. See README.md.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"sluice: move messages between queues, webhooks and HTTP APIs at a controlled rate, losing none."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sluice 0.1.0");

  std::string config = "sluice.yaml";
  auto* run = app.add_subcommand("run", "Run every pipeline in a config until SIGINT/SIGTERM or until inputs end.");
  run->add_option("-c,--config", config, "Config file")->capture_default_str();

  std::vector<std::string> lint_files;
  auto* lint = app.add_subcommand("lint", "Validate config files; prints FILE:LINE:COL: error: ... (exit 2 on errors).");
  lint->add_option("files", lint_files, "Config files")->required();

  std::string topic;
  auto* docs = app.add_subcommand("docs", "Print the reference for every component, or for one.");
  docs->add_option("topic", topic, "Component or section (config, pipeline, input, output, rate_limits)");

  sluice::cli::DemoOptions demo_opts;
  auto* demo = app.add_subcommand("demo", "Run a self-contained demo: generate -> durable queue -> rate-limited output.");
  demo->add_option("--recipients", demo_opts.recipients, "Messages to send")->check(CLI::Range(1, 10'000'000))->capture_default_str();
  demo->add_option("--rate", demo_opts.rate, "Send rate per second")->check(CLI::Range(0.1, 1e7))->capture_default_str();
  demo->add_option("--admin", demo_opts.admin, "Admin address (host:port; port 0 picks one)")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    if (*run) return sluice::cli::run_command(config);
    if (*lint) return sluice::cli::lint_command(lint_files);
    if (*docs) return sluice::cli::docs_command(topic);
    if (*demo) return sluice::cli::demo_command(demo_opts);
  } catch (const std::exception& e) {
    std::cerr << "sluice: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
