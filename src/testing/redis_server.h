#pragma once
// Test helper: Debian's redis-server on a loopback port, started as a child
// that dies with the test process, for as long as the object lives; stop()
// and start() again for a server that goes away and comes back.

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "testing/loopback.h"

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>

namespace sluice::testing {

class RedisServer {
 public:
  explicit RedisServer(int port) : port_(port) { start(); }
  ~RedisServer() { stop(); }
  void start() {
    const std::string dir = (std::filesystem::temp_directory_path() / fmt::format("sluice-redis-{}", port_)).string();
    std::filesystem::create_directories(dir);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      const std::string p = std::to_string(port_);
      ::execlp("redis-server", "redis-server", "--port", p.c_str(), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", dir.c_str(), "--loglevel", "warning", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !listening(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    if (!listening()) throw std::runtime_error("redis-server did not start (run scripts/install-deps)");
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::string url() const { return fmt::format("redis://127.0.0.1:{}", port_); }
  int port() const { return port_; }

 private:
  bool listening() const { return listening_on(port_); }
  int port_;
  pid_t pid_ = -1;
};

}  // namespace sluice::testing
