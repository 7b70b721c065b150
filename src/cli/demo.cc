// `sluice demo`: the whole alert story on one machine, no external service.
// It starts provider-sim (a Twilio look-alike) as a child process, runs
// examples/alert-demo.yaml (embedded) with the embedded queue, the signed
// webhook, the ledger and the dashboard, sends one alert to generated
// recipients through the alert API, shows progress, prints the report, and
// keeps the dashboard up until Ctrl-C (or exits, with --exit).
//
// With --data-dir an interrupted demo resumes: an alert that is not
// complete is followed to its end instead of a new one being sent.
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "alerts/api.h"
#include "cli/admin_client.h"
#include "cli/alert_demo_config.h"
#include "cli/commands.h"
#include "components/component_list.h"
#include "config/config.h"
#include "logging/log.h"
#include "net/free_port.h"
#include "runtime/engine.h"

namespace sluice::cli {

namespace {

namespace json = boost::json;

// provider-sim as a child that dies with us, even on kill -9. Its records
// are kept in the demo's directory (`--state`), so a demo started again
// after a crash talks to a provider that remembers what it accepted.
class SimulatorProcess {
 public:
  SimulatorProcess(int port, double mps, const std::string& dir) {
    const std::string log_path = dir + "/provider-sim.log";
    const std::vector<std::string> args = {
        "sluice", "provider-sim", "--address", fmt::format("127.0.0.1:{}", port), "--mps", fmt::format("{}", mps),
        "--queue-size", "100000", "--max-concurrency", "1000", "--delivery-delay-ms", "1000", "--reorder", "0.05",
        "--duplicates", "0.02", "--state", dir + "/provider-sim.state"};
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (FILE* log = std::fopen(log_path.c_str(), "w")) {
        ::dup2(fileno(log), STDOUT_FILENO);
        ::dup2(fileno(log), STDERR_FILENO);
      }
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv("/proc/self/exe", argv.data());
      ::_exit(127);
    }
  }
  ~SimulatorProcess() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_;
};

void wait_until_listening(const std::string& url) {
  for (int i = 0; i < 200; ++i) {
    try {
      if (admin_call(url, "", "GET", "/sim/stats").status == 200) return;
    } catch (const std::runtime_error&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  throw std::runtime_error("provider-sim did not start; see its log in the data directory");
}

// The first alert that is not complete, if any: an interrupted demo.
std::optional<std::string> unfinished_alert(const AlertOptions& api) {
  const auto a = admin_call(api.admin, api.token, "GET", "/api/alerts");
  for (const auto& alert : a.body.at("alerts").as_array()) {
    const auto& r = alert.as_object();
    if (r.at("terminal").to_number<int64_t>() < r.at("recipients").to_number<int64_t>())
      return json::value_to<std::string>(r.at("id"));
  }
  return std::nullopt;
}

// The webhook's address, kept in the data directory: messages sent before
// an interruption carry it as their status callback URL, so a resumed demo
// must listen there again.
std::string webhook_address(const std::string& dir) {
  const std::string path = dir + "/demo-webhook-address";
  std::string address;
  if (std::ifstream in(path); in >> address) return address;
  address = fmt::format("127.0.0.1:{}", net::free_loopback_port());
  std::ofstream(path) << address << "\n";
  return address;
}

std::string generated_recipients(int n) {
  std::string csv = "phone\n";
  for (int i = 0; i < n; ++i) csv += fmt::format("+1555{:07d}\n", i);
  return csv;
}

}  // namespace

int demo_command(const DemoOptions& o) {
  const bool own_dir = o.data_dir.empty();
  const std::string dir =
      own_dir ? (std::filesystem::temp_directory_path() / fmt::format("sluice-demo-{}", ::getpid())).string()
              : o.data_dir;
  if (own_dir) std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  std::optional<SimulatorProcess> sim;
  std::string provider = o.provider;
  if (provider.empty()) {
    const int port = net::free_loopback_port();
    provider = fmt::format("http://127.0.0.1:{}", port);
    sim.emplace(port, std::max(100.0, 2 * o.rate), dir);
    wait_until_listening(provider);
  }
  const std::string webhook = webhook_address(dir);
  const std::map<std::string, std::string> env = {
      {"SLUICE_DATA_DIR", dir},           {"SLUICE_ADMIN", o.admin},
      {"SLUICE_LOG_LEVEL", "warn"},       {"SEND_RATE", fmt::format("{}", o.rate)},
      {"TWILIO_BASE_URL", provider},      {"WEBHOOK_ADDRESS", webhook},
      {"PUBLIC_URL", "http://" + webhook},
      // The simulator finishes a message within seconds: a final status
      // still missing 10 s after its send was lost (say, while sluice was
      // down), and is looked up.
      {"FINAL_STATUS_TIMEOUT", "10s"}};
  // Only these: a demo must never pick up real Twilio credentials.
  auto lookup = [&env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional(it->second);
  };
  auto cfg = config::load_string(kAlertDemoYaml, "examples/alert-demo.yaml", components::component_list(), lookup);
  if (!cfg) {
    std::cerr << cfg.error().to_string();
    return 1;
  }
  logging::setup(cfg->log_level, cfg->log_format);
  runtime::Engine engine(*cfg, components::component_list(), alerts::install_alert_api);
  int code = 0;
  std::thread runner([&] { code = engine.run(); });

  AlertOptions api;
  api.admin = "http://" + engine.admin_address();
  api.body = "Emergency drill: this is a test alert from sluice.";
  api.timeout = std::chrono::seconds(3600);
  std::cout << fmt::format(
      "sluice demo: one alert to {} recipients through provider-sim at {}/s\n"
      "  dashboard  {}/\n  data       {}\n\n",
      o.recipients, o.rate, api.admin, dir);
  bool complete = false;
  try {
    std::string id;
    if (auto resumed = unfinished_alert(api)) {
      id = *resumed;
      std::cout << "resuming unfinished alert " << id << "\n";
    } else {
      id = post_alert(api, generated_recipients(o.recipients));
      std::cout << "alert " << id << " created\n";
    }
    complete = wait_for_alert(api, id, std::cout, ::isatty(STDOUT_FILENO)).has_value();
    const auto report = admin_call(api.admin, "", "GET", "/api/alerts/" + id).body.as_object();
    std::cout << "\n";
    print_report(report, std::cout);
    const double achieved = report.at("send_rate").to_number<double>();
    std::cout << fmt::format("  send rate   {:.1f} msg/s against a limit of {}/s ({:+.2f}%)\n", achieved, o.rate,
                             100.0 * (achieved - o.rate) / o.rate);
  } catch (const std::exception& e) {
    std::cerr << "sluice demo: " << e.what() << "\n";
  }
  if (!o.exit_when_done) {
    std::cout << fmt::format("\nThe dashboard stays up at {}/ ; Ctrl-C to stop.\n", api.admin) << std::flush;
  } else {
    engine.request_stop();
  }
  runner.join();
  if (own_dir) std::filesystem::remove_all(dir);
  return complete ? code : 1;
}

}  // namespace sluice::cli
