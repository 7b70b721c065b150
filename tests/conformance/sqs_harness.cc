// The sqs input's harness: a real SQS emulator (fauxqs, started once for the
// whole suite) and AWS's own JavaScript client as producer and checker
// (tests/sqs/sqs.mjs), so what sluice's client sends and reads is seen by
// software we did not write.
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cstdio>

#include "harnesses.h"
#include "peer_process.h"

namespace sluice::conformance {
namespace {

const std::string kPeers = SLUICE_SOURCE_DIR "/tests/sqs";

// fauxqs on a free loopback port, for as long as the test process runs.
const PeerProcess& emulator() {
  static PeerProcess p({"node", kPeers + "/fauxqs.mjs", "0"}, "node " + kPeers + "/fauxqs.mjs; run scripts/install-deps");
  return p;
}

std::string client(const std::string& args) {
  return fmt::format("node {}/sqs.mjs {} {}", kPeers, emulator().url(), args);
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
    url_ = lines_of(run_command(client(fmt::format("create {} {}-dlq 100", name, name)))).at(0);
    dead_url_ = url_ + "-dlq";
  }
  std::string block(Env&, const std::vector<std::string>&) override {
    return "sqs: {" + connection(url_, emulator().url()) + ", wait_time: 1s, visibility_timeout: 30s}";
  }
  void produce(Env&, const std::vector<std::string>& payloads) override {
    std::string input;
    for (const auto& p : payloads) input += p + "\n";
    run_command(client("send " + url_), input);
    produced_ = payloads.size();
  }
  bool acknowledges() const override { return true; }
  // A nacked message is visible again after its backoff (1 s on a first
  // receive); acked ones are deleted, and the rest stay hidden for 30 s.
  std::vector<std::string> redeliverable(Env&) override { return lines_of(run_command(client("drain " + url_ + " 3"))); }
  std::vector<std::string> dead(Env&) override { return lines_of(run_command(client("drain " + dead_url_ + " 1"))); }
  size_t acknowledged(Env&) override {
    const auto depth = lines_of(run_command(client("depth " + url_)));
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
  SqsOutputHarness() : url_(lines_of(run_command(client("create " + unique_queue_name("out")))).at(0)) {}
  std::string block(Env&) override { return "sqs: {" + connection(url_, emulator().url()) + "}"; }
  std::string payload(const std::string& id, Kind kind) override {
    return kind == Kind::permanent ? fmt::format("{{\"id\":\"{}\",\"bad\":\"\x01\"}}", id) : json_payload(id);
  }
  bool supports(Kind kind) const override { return kind != Kind::transient; }
  std::vector<std::string> received(Env&) override { return ids_of(lines_of(run_command(client("drain " + url_ + " 1")))); }
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
