#pragma once
// A test peer the suite starts once (an SQS emulator, a _bulk endpoint): a
// program that prints the port it listens on as its first line. It dies
// with the test process, even one that aborts, and holds no copy of the
// test's output pipe (ctest would wait for that to close).

#include <sys/types.h>

#include <string>
#include <vector>

namespace sluice::conformance {

class PeerProcess {
 public:
  // `argv[0]` is looked up on PATH; `install_hint` says what to run when
  // the peer does not start.
  PeerProcess(std::vector<std::string> argv, std::string install_hint);
  ~PeerProcess();
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;

  // http://127.0.0.1:<port>
  const std::string& url() const { return url_; }

 private:
  pid_t pid_ = -1;
  std::string url_;
};

// Runs a shell command with `input` on its stdin; returns its stdout, and
// throws with its output when it fails.
std::string run_command(const std::string& command, const std::string& input = "");
std::vector<std::string> lines_of(const std::string& text);

}  // namespace sluice::conformance
