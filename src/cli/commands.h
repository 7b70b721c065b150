#pragma once
// The subcommands of the `sluice` binary. Each returns the process exit
// code: 0 ok, 1 runtime failure, 2 bad usage or bad config.

#include <string>
#include <vector>

namespace sluice::cli {

int run_command(const std::string& config_path);
int lint_command(const std::vector<std::string>& files);
int docs_command(const std::string& topic);

struct DemoOptions {
  int recipients = 10'000;
  double rate = 500;
  std::string admin = "127.0.0.1:4195";
};
int demo_command(const DemoOptions& options);

}  // namespace sluice::cli
