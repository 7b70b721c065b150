#pragma once
// Test helper: Debian's rabbitmq-server as a plain process in a temporary
// directory, on free loopback ports, with an epmd of its own (the recipe of
// ../shared/PEERS.md), for as long as the object lives. It takes about 8 s
// to start, so a test binary shares one. stop() and start() again for a
// broker restart; ctl() runs rabbitmqctl against it.

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "testing/loopback.h"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "net/free_port.h"

namespace sluice::testing {

class RabbitMqServer {
 public:
  RabbitMqServer()
      : port_(net::free_loopback_port()), dist_port_(net::free_loopback_port()), epmd_port_(net::free_loopback_port()) {
    dir_ = std::filesystem::temp_directory_path() / fmt::format("sluice-rabbitmq-{}", port_);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "home");
    std::ofstream(dir_ / "rabbitmq.conf") << fmt::format("listeners.tcp.default = 127.0.0.1:{}\nloopback_users = none\n", port_);
    std::ofstream(dir_ / "enabled_plugins") << "[].\n";
    epmd_ = spawn({"epmd", "-address", "127.0.0.1", "-port", std::to_string(epmd_port_)});
    try {
      start();
    } catch (...) {
      kill_child(epmd_);
      throw;
    }
  }
  ~RabbitMqServer() {
    stop();
    kill_child(epmd_);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  void start() {
    server_ = spawn({"/usr/lib/rabbitmq/bin/rabbitmq-server"});
    // The AMQP listener opens last in the boot.
    for (int i = 0; i < 600 && !listening(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!listening()) {
      stop();
      throw std::runtime_error(fmt::format("rabbitmq-server did not start in 60 s (run scripts/install-deps; log: {})",
                                           (dir_ / "server.out").string()));
    }
  }
  // A hard stop, as a crash or a restart by an operator looks to clients.
  void stop() { kill_child(server_); }
  // rabbitmqctl with this broker's environment; its exit status.
  int ctl(const std::string& args, int timeout_s = 30) const {
    return std::system(fmt::format("{} timeout {} /usr/lib/rabbitmq/bin/rabbitmqctl -q {} >/dev/null 2>&1", env(),
                                   timeout_s, args)
                           .c_str());
  }
  // rabbitmqctl's output.
  std::string ctl_output(const std::string& args) const {
    std::string out;
    FILE* p = ::popen(fmt::format("{} /usr/lib/rabbitmq/bin/rabbitmqctl -q {} 2>&1", env(), args).c_str(), "r");
    if (!p) return out;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    ::pclose(p);
    return out;
  }
  std::string url(const std::string& vhost = "") const {
    return fmt::format("amqp://guest:guest@127.0.0.1:{}/{}", port_, vhost);
  }
  int port() const { return port_; }

 private:
  bool listening() const { return listening_on(port_); }
  std::vector<std::pair<std::string, std::string>> environment() const {
    const std::string d = dir_.string();
    return {{"HOME", d + "/home"},
            {"RABBITMQ_NODENAME", fmt::format("test{}@localhost", port_)},
            {"RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1"},
            {"RABBITMQ_NODE_PORT", std::to_string(port_)},
            {"RABBITMQ_DIST_PORT", std::to_string(dist_port_)},
            {"ERL_EPMD_ADDRESS", "127.0.0.1"},
            {"ERL_EPMD_PORT", std::to_string(epmd_port_)},
            {"RABBITMQ_MNESIA_BASE", d + "/mnesia"},
            {"RABBITMQ_LOG_BASE", d + "/log"},
            {"RABBITMQ_CONFIG_FILE", d + "/rabbitmq.conf"},
            {"RABBITMQ_ENABLED_PLUGINS_FILE", d + "/enabled_plugins"},
            {"RABBITMQ_PID_FILE", d + "/rabbit.pid"},
            {"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1}"}};
  }
  std::string env() const {
    std::string s = "env";
    for (const auto& [k, v] : environment()) s += fmt::format(" {}='{}'", k, v);
    return s;
  }
  pid_t spawn(const std::vector<std::string>& argv) const {
    const auto vars = environment();
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::setpgid(0, 0);  // the broker's Erlang children go with it
      for (const auto& [k, v] : vars) ::setenv(k.c_str(), v.c_str(), 1);
      const std::string log = (dir_ / "server.out").string();
      if (FILE* f = std::freopen(log.c_str(), "a", stdout)) ::dup2(::fileno(f), 2);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    return pid;
  }
  static void kill_child(pid_t& pid) {
    if (pid <= 0) return;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }

  int port_, dist_port_, epmd_port_;
  std::filesystem::path dir_;
  pid_t epmd_ = -1, server_ = -1;
};

}  // namespace sluice::testing
