// The sqs input's harness: a real SQS emulator (fauxqs, started once for the
// whole suite) and AWS's own JavaScript client as producer and checker
// (tests/sqs/sqs.mjs), so what sluice's client sends and reads is seen by
// software we did not write.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "harnesses.h"

namespace sluice::conformance {
namespace {

const std::string kPeers = SLUICE_SOURCE_DIR "/tests/sqs";

// Runs a shell command; returns its stdout, throws with its output on failure.
std::string run(const std::string& command, const std::string& input = "") {
  const std::string in_file = fmt::format("/tmp/sluice-sqs-conformance-{}.in", ::getpid());
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

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

// fauxqs on a free loopback port, for as long as the test process runs.
class Emulator {
 public:
  static Emulator& instance() {
    static Emulator e;
    return e;
  }
  const std::string& endpoint() const { return endpoint_; }
  ~Emulator() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }

 private:
  Emulator() {
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
      // Dies with the test process, even one that aborts, and keeps no copy
      // of its output pipe (ctest would wait for that to close).
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      const int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, STDERR_FILENO);
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      ::execlp("node", "node", (kPeers + "/fauxqs.mjs").c_str(), "0", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    std::string port;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') port += c;
    ::close(out[0]);
    if (port.empty()) throw std::runtime_error("fauxqs did not start (node " + kPeers + "/fauxqs.mjs; run scripts/install-deps)");
    endpoint_ = "http://127.0.0.1:" + port;
  }
  pid_t pid_ = -1;
  std::string endpoint_;
};

std::string client(const std::string& args) {
  return fmt::format("node {}/sqs.mjs {} {}", kPeers, Emulator::instance().endpoint(), args);
}

std::string unique_queue_name(const char* kind) {
  static std::atomic<int> next{0};
  return fmt::format("conformance-{}-{}-{}", kind, ::getpid(), next++);
}

std::string connection(const std::string& url, const std::string& endpoint) {
  return fmt::format(
      "url: \"{}\", endpoint: \"{}\", region: us-east-1, credentials: {{access_key_id: test, secret_access_key: test}}",
      url, endpoint);
}

class SqsHarness final : public InputHarness {
 public:
  SqsHarness() {
    const std::string name = unique_queue_name("in");
    // A redrive policy names the dead-letter queue rejected messages go to;
    // its receive limit is never reached here.
    url_ = lines(run(client(fmt::format("create {} {}-dlq 100", name, name)))).at(0);
    dead_url_ = url_ + "-dlq";
  }
  std::string block(Env&, const std::vector<std::string>&) override {
    return "sqs: {" + connection(url_, Emulator::instance().endpoint()) + ", wait_time: 1s, visibility_timeout: 30s}";
  }
  void produce(Env&, const std::vector<std::string>& payloads) override {
    std::string input;
    for (const auto& p : payloads) input += p + "\n";
    run(client("send " + url_), input);
    produced_ = payloads.size();
  }
  bool acknowledges() const override { return true; }
  // A nacked message is visible again after its backoff (1 s on a first
  // receive); acked ones are deleted, and the rest stay hidden for 30 s.
  std::vector<std::string> redeliverable(Env&) override { return lines(run(client("drain " + url_ + " 3"))); }
  std::vector<std::string> dead(Env&) override { return lines(run(client("drain " + dead_url_ + " 1"))); }
  size_t acknowledged(Env&) override {
    const auto depth = lines(run(client("depth " + url_)));
    size_t visible = 0, hidden = 0;
    if (!depth.empty()) std::sscanf(depth[0].c_str(), "%zu %zu", &visible, &hidden);
    return produced_ - std::min(produced_, visible + hidden);
  }

 private:
  std::string url_, dead_url_;
  size_t produced_ = 0;
};

// SQS refuses a body with a character outside XML's (InvalidMessageContents,
// a sender fault): the permanent kind. It has no per-message transient one.
class SqsOutputHarness final : public OutputHarness {
 public:
  SqsOutputHarness() : url_(lines(run(client("create " + unique_queue_name("out")))).at(0)) {}
  std::string block(Env&) override { return "sqs: {" + connection(url_, Emulator::instance().endpoint()) + "}"; }
  std::string payload(const std::string& id, Kind kind) override {
    return kind == Kind::permanent ? fmt::format("{{\"id\":\"{}\",\"bad\":\"\x01\"}}", id) : json_payload(id);
  }
  bool supports(Kind kind) const override { return kind != Kind::transient; }
  std::vector<std::string> received(Env&) override { return ids_of(lines(run(client("drain " + url_ + " 1")))); }
  std::string unreachable_block(Env&) override {
    return "sqs: {" + connection(url_, fmt::format("http://127.0.0.1:{}", free_port())) + "}";
  }

 private:
  std::string url_;
};

}  // namespace

std::unique_ptr<InputHarness> make_sqs_harness() { return std::make_unique<SqsHarness>(); }
std::unique_ptr<OutputHarness> make_sqs_output_harness() { return std::make_unique<SqsOutputHarness>(); }

}  // namespace sluice::conformance
