#pragma once
// The subcommands of the `sluice` binary. Each returns the process exit
// code: 0 ok, 1 runtime failure, 2 bad usage or bad config.

#include <boost/json/object.hpp>

#include <chrono>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sluice::cli {

// `log_level`, when not empty, replaces the config's log.level.
int run_command(const std::string& config_path, const std::string& log_level);
int lint_command(const std::vector<std::string>& files);
int docs_command(const std::string& topic);

struct DemoOptions {
  int recipients = 10'000;
  double rate = 500;
  std::string admin = "127.0.0.1:4195";
  bool exit_when_done = false;
  std::string data_dir;  // empty: a temporary one, removed at the end
  std::string provider;  // empty: start provider-sim
};
int demo_command(const DemoOptions& options);

struct AlertOptions {
  std::string admin = "http://127.0.0.1:4195";
  std::string token;  // default: $SLUICE_ADMIN_TOKEN
  std::string recipients_file, body, from;
  bool wait = false;
  bool skip_invalid = false;
  std::chrono::seconds timeout{3600};
  std::string id;
  bool json = false;
};
int alert_send_command(const AlertOptions& options);
// POSTs an alert to options.admin (the CSV as a text/csv body) and returns
// its id; says on stderr how many duplicate numbers it dropped and which
// rows it refused (--skip-invalid). Throws AlertRefused.
std::string post_alert(const AlertOptions& options, const std::string& recipients_csv);
struct AlertRefused : std::runtime_error {
  AlertRefused(int s, const std::string& why) : std::runtime_error(why), status(s) {}
  int status;
};
int alert_status_command(const AlertOptions& options);
// Polls the alert until every recipient is final (its last report) or the
// timeout (nullopt); a progress bar on a terminal, plain lines otherwise.
std::optional<boost::json::object> wait_for_alert(const AlertOptions& options, const std::string& id, std::ostream& out,
                                                  bool tty);
// An alert report (GET /api/alerts/ID) as a table.
void print_report(const boost::json::object& report, std::ostream& out);

}  // namespace sluice::cli
