#include "peer_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace sluice::conformance {

PeerProcess::PeerProcess(std::vector<std::string> argv, std::string install_hint) {
  int out[2];
  if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, STDERR_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string port;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') port += c;
  ::close(out[0]);
  if (port.empty())
    throw std::runtime_error(fmt::format("{} did not start ({})", fmt::join(argv, " "), install_hint));
  url_ = "http://127.0.0.1:" + port;
}

PeerProcess::~PeerProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string run_command(const std::string& command, const std::string& input) {
  static std::atomic<int> next{0};
  const std::string in_file = fmt::format("/tmp/sluice-conformance-{}-{}.in", ::getpid(), next++);
  {
    FILE* f = std::fopen(in_file.c_str(), "w");
    if (!f) throw std::runtime_error("cannot write " + in_file);
    std::fwrite(input.data(), 1, input.size(), f);
    std::fclose(f);
  }
  FILE* p = ::popen(fmt::format("NODE_NO_WARNINGS=1 {} < {} 2>&1", command, in_file).c_str(), "r");
  if (!p) throw std::runtime_error("cannot run " + command);
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = ::pclose(p);
  std::remove(in_file.c_str());
  if (status != 0) throw std::runtime_error(fmt::format("`{}` failed: {}", command, out));
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

}  // namespace sluice::conformance
