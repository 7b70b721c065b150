// The amqp connectors' harnesses: a real RabbitMQ (started once for the
// whole suite) and Debian's python3-pika as producer and checker, so what
// sluice's AMQP client writes and reads is seen by a client we did not write.
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>

#include "harnesses.h"
#include "peer_process.h"
#include "testing/rabbitmq_server.h"

namespace sluice::conformance {
namespace {

testing::RabbitMqServer& server() {
  static testing::RabbitMqServer s;
  return s;
}

// Runs Python with `ch`, a pika channel on the broker; returns its output's lines.
std::vector<std::string> python(const std::string& code, const std::string& input = "") {
  return lines_of(run_command(fmt::format("/usr/bin/python3 -c 'import sys, pika\n"
                                          "conn = pika.BlockingConnection(pika.URLParameters(\"{}\"))\n"
                                          "ch = conn.channel()\n{}\nconn.close()'",
                                          server().url(), code),
                              input));
}

std::string unique_queue(const char* kind) {
  static std::atomic<int> next{0};
  return fmt::format("conformance-{}-{}-{}", kind, ::getpid(), next++);
}

// Prints the bodies in `queue` without taking them: got unacked, then given
// back as the connection closes.
std::string peek(const std::string& queue) {
  return fmt::format("while True:\n  m, p, b = ch.basic_get(\"{}\")\n  if m is None: break\n  print(b.decode())", queue);
}

// A classic queue whose dead-letter exchange (the default one) routes to
// <queue>.dead.
class AmqpInputHarness final : public InputHarness {
 public:
  AmqpInputHarness() {
    python(fmt::format("ch.queue_declare(\"{0}.dead\", durable=True)\n"
                       "ch.queue_declare(\"{0}\", durable=True, arguments={{\"x-dead-letter-exchange\": \"\", "
                       "\"x-dead-letter-routing-key\": \"{0}.dead\"}})",
                       queue_));
  }
  std::string block(Env&, const std::vector<std::string>&) override {
    return fmt::format("amqp: {{url: \"{}\", queue: \"{}\", prefetch: 50}}", server().url(), queue_);
  }
  void produce(Env&, const std::vector<std::string>& payloads) override {
    std::string input;
    for (const auto& p : payloads) input += p + "\n";
    python(fmt::format("ch.confirm_delivery()\nfor line in sys.stdin.read().splitlines(): "
                       "ch.basic_publish(\"\", \"{}\", line, pika.BasicProperties(delivery_mode=2))",
                       queue_),
           input);
    produced_ += payloads.size();
  }
  bool acknowledges() const override { return true; }
  std::vector<std::string> redeliverable(Env&) override { return python(peek(queue_)); }
  std::vector<std::string> dead(Env&) override { return python(peek(queue_ + ".dead")); }
  // Ready and unacked, as the broker counts them.
  size_t acknowledged(Env&) override {
    size_t left = 0;
    for (const auto& line : lines_of(server().ctl_output("list_queues name messages_ready messages_unacknowledged"))) {
      char name[256];
      size_t ready = 0, unacked = 0;
      if (std::sscanf(line.c_str(), "%255s %zu %zu", name, &ready, &unacked) == 3 && queue_ == name)
        left = ready + unacked;
    }
    return produced_ - std::min(produced_, left);
  }

 private:
  std::string queue_ = unique_queue("in");
  size_t produced_ = 0;
};

// Through the default exchange; the permanent failure: a routing key no
// queue is bound to, published mandatory (the broker returns it).
class AmqpOutputHarness final : public OutputHarness {
 public:
  AmqpOutputHarness() { python(fmt::format("ch.queue_declare(\"{}\", durable=True)", queue_)); }
  std::string block(Env&) override {
    return fmt::format("amqp: {{url: \"{}\", routing_key: \"{{{{target}}}}\", mandatory: true}}", server().url());
  }
  std::string payload(const std::string& id, Kind kind) override {
    return fmt::format(R"({{"id":"{}","target":"{}"}})", id, kind == Kind::permanent ? queue_ + ".nowhere" : queue_);
  }
  bool supports(Kind kind) const override { return kind != Kind::transient; }
  std::vector<std::string> received(Env&) override { return ids_of(python(peek(queue_))); }
  std::string unreachable_block(Env&) override {
    return fmt::format("amqp: {{url: \"amqp://127.0.0.1:{}\", routing_key: \"{}\"}}", free_port(), queue_);
  }

 private:
  std::string queue_ = unique_queue("out");
};

}  // namespace

std::unique_ptr<InputHarness> make_amqp_harness() { return std::make_unique<AmqpInputHarness>(); }
std::unique_ptr<OutputHarness> make_amqp_output_harness() { return std::make_unique<AmqpOutputHarness>(); }

}  // namespace sluice::conformance
