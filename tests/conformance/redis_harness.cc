// The Redis connectors' harnesses (redis_list, sidekiq): a real redis-server (started once
// for the whole suite) and Debian's python3-redis as producer and checker,
// so what sluice's client writes and reads is seen by a client we did not
// write.
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>

#include "harnesses.h"
#include "net/free_port.h"
#include "peer_process.h"
#include "testing/redis_server.h"

namespace sluice::conformance {
namespace {

testing::RedisServer& server() {
  static testing::RedisServer s(net::free_loopback_port());
  return s;
}

// Runs Python with `r`, a redis.Redis on the server; returns its output's lines.
std::vector<std::string> python(const std::string& code, const std::string& input = "") {
  return lines_of(run_command(
      fmt::format("/usr/bin/python3 -c 'import sys, redis\nr = redis.Redis(port={}, decode_responses=True)\n{}'",
                  server().port(), code),
      input));
}

std::string unique_key(const char* kind) {
  static std::atomic<int> next{0};
  return fmt::format("conformance:{}:{}:{}", kind, ::getpid(), next++);
}

class RedisListInputHarness final : public InputHarness {
 public:
  std::string block(Env&, const std::vector<std::string>&) override {
    return fmt::format("redis_list: {{url: \"{}\", key: \"{}\", consumer: c1, wait_time: 200ms}}", server().url(),
                       key_);
  }
  // LPUSH in order: the first produced is the first taken (from the right).
  void produce(Env&, const std::vector<std::string>& payloads) override {
    std::string input;
    for (const auto& p : payloads) input += p + "\n";
    python(fmt::format("for line in sys.stdin.read().splitlines(): r.lpush(\"{}\", line)", key_), input);
    produced_ += payloads.size();
  }
  bool acknowledges() const override { return true; }
  // The list, and the processing list a restarted consumer puts back.
  std::vector<std::string> redeliverable(Env&) override {
    return python(fmt::format("print(\"\\n\".join(r.lrange(\"{0}\", 0, -1) + r.lrange(\"{0}:processing:c1\", 0, -1)))",
                              key_));
  }
  std::vector<std::string> dead(Env&) override {
    return python(fmt::format("print(\"\\n\".join(r.lrange(\"{}:dead\", 0, -1)))", key_));
  }
  size_t acknowledged(Env&) override {
    const auto n = python(fmt::format("print(r.llen(\"{0}\") + r.llen(\"{0}:processing:c1\"))", key_));
    const size_t left = n.empty() ? 0 : std::stoul(n[0]);
    return produced_ - std::min(produced_, left);
  }

 private:
  std::string key_ = unique_key("in");
  size_t produced_ = 0;
};

// A permanent failure: the message names a key that holds a string
// (WRONGTYPE). Redis has no per-message transient one.
class RedisListOutputHarness final : public OutputHarness {
 public:
  RedisListOutputHarness() { python(fmt::format("r.set(\"{}\", \"not a list\")", string_key_)); }
  std::string block(Env&) override {
    return fmt::format("redis_list: {{url: \"{}\", key: \"{{{{target}}}}\"}}", server().url());
  }
  std::string payload(const std::string& id, Kind kind) override {
    return fmt::format(R"({{"id":"{}","target":"{}"}})", id, kind == Kind::permanent ? string_key_ : key_);
  }
  bool supports(Kind kind) const override { return kind != Kind::transient; }
  // LPUSH puts the newest on the left: arrival order is right to left.
  std::vector<std::string> received(Env&) override {
    auto items = python(fmt::format("print(\"\\n\".join(reversed(r.lrange(\"{}\", 0, -1))))", key_));
    return ids_of(items);
  }
  std::string unreachable_block(Env&) override {
    return fmt::format("redis_list: {{url: \"redis://127.0.0.1:{}\", key: \"{}\"}}", free_port(), key_);
  }

 private:
  std::string key_ = unique_key("out");
  std::string string_key_ = unique_key("string");
};

// Jobs read back as a Sidekiq process would take them (right to left off
// queue:<q>), each job's one argument being the message. The permanent
// failure: a queue whose key holds a string (WRONGTYPE).
class SidekiqOutputHarness final : public OutputHarness {
 public:
  SidekiqOutputHarness() { python(fmt::format("r.set(\"queue:{}\", \"not a list\")", broken_queue_)); }
  std::string block(Env&) override {
    return fmt::format("sidekiq: {{url: \"{}\", class: ConformanceJob, queue: \"{{{{q}}}}\"}}", server().url());
  }
  std::string payload(const std::string& id, Kind kind) override {
    return fmt::format(R"({{"id":"{}","q":"{}"}})", id, kind == Kind::permanent ? broken_queue_ : queue_);
  }
  bool supports(Kind kind) const override { return kind != Kind::transient; }
  std::vector<std::string> received(Env&) override {
    return ids_of(python(fmt::format(
        "import json\nfor job in reversed(r.lrange(\"queue:{}\", 0, -1)): print(json.dumps(json.loads(job)[\"args\"][0]))",
        queue_)));
  }
  std::string unreachable_block(Env&) override {
    return fmt::format("sidekiq: {{url: \"redis://127.0.0.1:{}\", class: ConformanceJob, queue: {}}}", free_port(),
                       queue_);
  }

 private:
  std::string queue_ = unique_key("sidekiq");
  std::string broken_queue_ = unique_key("sidekiq-string");
};

// Jobs as Ruby pushes them, each job's one argument being the payload.
// Sidekiq's places for a job: the queue and the processing list (taken
// again), `retry` (an errored job, run again by the scheduler), `dead`.
class SidekiqInputHarness final : public InputHarness {
 public:
  std::string block(Env&, const std::vector<std::string>&) override {
    return fmt::format("sidekiq: {{url: \"{}\", queue: \"{}\", consumer: c1, wait_time: 200ms}}", server().url(),
                       queue_);
  }
  void produce(Env&, const std::vector<std::string>& payloads) override {
    std::string input;
    for (const auto& p : payloads) input += p + "\n";
    python(fmt::format("import json\nfor i, line in enumerate(sys.stdin.read().splitlines()): "
                       "r.lpush(\"{}\", json.dumps({{\"class\": \"ConformanceJob\", \"args\": [json.loads(line)], "
                       "\"queue\": \"{}\", \"retry\": True, \"jid\": \"%024x\" % i}}))",
                       key(), queue_),
           input);
    produced_ += payloads.size();
  }
  bool acknowledges() const override { return true; }
  std::string seen_as(const std::string& body) const override {
    return body.size() >= 2 ? body.substr(1, body.size() - 2) : body;  // [payload]
  }
  std::vector<std::string> redeliverable(Env&) override {
    return first_args(fmt::format("r.lrange(\"{0}\", 0, -1) + r.lrange(\"{0}:processing:c1\", 0, -1) + "
                                  "r.zrange(\"retry\", 0, -1)",
                                  key()));
  }
  std::vector<std::string> dead(Env&) override { return first_args("r.zrange(\"dead\", 0, -1)"); }
  size_t acknowledged(Env&) override {
    const auto n = python(fmt::format("print(r.llen(\"{0}\") + r.llen(\"{0}:processing:c1\"))", key()));
    const size_t left = n.empty() ? 0 : std::stoul(n[0]);
    return produced_ - std::min(produced_, left);
  }

 private:
  std::string key() const { return "queue:" + queue_; }
  // The first argument of each job of this harness's queue in `jobs` (a
  // Python expression), as compact JSON.
  std::vector<std::string> first_args(const std::string& jobs) {
    return python(fmt::format("import json\nfor j in map(json.loads, {}):\n  if j[\"queue\"] == \"{}\": "
                              "print(json.dumps(j[\"args\"][0], separators=(\",\", \":\")))",
                              jobs, queue_));
  }
  std::string queue_ = unique_key("sidekiq-in");
  size_t produced_ = 0;
};

// Entries XADDed by python3-redis with the payload in `body`. What a
// group would deliver again: its pending entries and those past its
// last-delivered id; dead letters: the dead-letter stream.
class RedisStreamsInputHarness final : public InputHarness {
 public:
  std::string block(Env&, const std::vector<std::string>&) override {
    return fmt::format("redis_streams: {{url: \"{}\", stream: \"{}\", group: g, consumer: c1, wait_time: 200ms}}",
                       server().url(), stream_);
  }
  void produce(Env&, const std::vector<std::string>& payloads) override {
    std::string input;
    for (const auto& p : payloads) input += p + "\n";
    python(fmt::format("for line in sys.stdin.read().splitlines(): r.xadd(\"{}\", {{\"body\": line}})", stream_), input);
    produced_ += payloads.size();
  }
  bool acknowledges() const override { return true; }
  std::vector<std::string> redeliverable(Env&) override {
    return python(fmt::format(
        "g = r.xinfo_groups(\"{0}\")[0]\n"
        "ids = [p[\"message_id\"] for p in r.xpending_range(\"{0}\", \"g\", \"-\", \"+\", 100000)]\n"
        "bodies = [r.xrange(\"{0}\", i, i)[0][1][\"body\"] for i in ids]\n"
        "bodies += [f[\"body\"] for i, f in r.xrange(\"{0}\", \"(\" + g[\"last-delivered-id\"], \"+\")]\n"
        "print(\"\\n\".join(bodies))",
        stream_));
  }
  std::vector<std::string> dead(Env&) override {
    return python(fmt::format("print(\"\\n\".join(f[\"body\"] for i, f in r.xrange(\"{}:dead\", \"-\", \"+\")))",
                              stream_));
  }
  size_t acknowledged(Env&) override {
    const auto n = python(fmt::format(
        "g = r.xinfo_groups(\"{0}\")[0]\n"
        "print(g[\"pending\"] + len(r.xrange(\"{0}\", \"(\" + g[\"last-delivered-id\"], \"+\")))",
        stream_));
    const size_t left = n.empty() ? 0 : std::stoul(n[0]);
    return produced_ - std::min(produced_, left);
  }

 private:
  std::string stream_ = unique_key("stream-in");
  size_t produced_ = 0;
};

// Entries read back in order; the permanent failure: a stream key that
// holds a string (WRONGTYPE).
class RedisStreamsOutputHarness final : public OutputHarness {
 public:
  RedisStreamsOutputHarness() { python(fmt::format("r.set(\"{}\", \"not a stream\")", string_key_)); }
  std::string block(Env&) override {
    return fmt::format("redis_streams: {{url: \"{}\", stream: \"{{{{target}}}}\"}}", server().url());
  }
  std::string payload(const std::string& id, Kind kind) override {
    return fmt::format(R"({{"id":"{}","target":"{}"}})", id, kind == Kind::permanent ? string_key_ : stream_);
  }
  bool supports(Kind kind) const override { return kind != Kind::transient; }
  std::vector<std::string> received(Env&) override {
    return ids_of(python(fmt::format("print(\"\\n\".join(f[\"body\"] for i, f in r.xrange(\"{}\", \"-\", \"+\")))",
                                     stream_)));
  }
  std::string unreachable_block(Env&) override {
    return fmt::format("redis_streams: {{url: \"redis://127.0.0.1:{}\", stream: \"{}\"}}", free_port(), stream_);
  }

 private:
  std::string stream_ = unique_key("stream-out");
  std::string string_key_ = unique_key("stream-string");
};

}  // namespace

std::unique_ptr<InputHarness> make_redis_streams_harness() { return std::make_unique<RedisStreamsInputHarness>(); }
std::unique_ptr<OutputHarness> make_redis_streams_output_harness() {
  return std::make_unique<RedisStreamsOutputHarness>();
}
std::unique_ptr<InputHarness> make_sidekiq_input_harness() { return std::make_unique<SidekiqInputHarness>(); }
std::unique_ptr<InputHarness> make_redis_list_harness() { return std::make_unique<RedisListInputHarness>(); }
std::unique_ptr<OutputHarness> make_redis_list_output_harness() { return std::make_unique<RedisListOutputHarness>(); }
std::unique_ptr<OutputHarness> make_sidekiq_output_harness() { return std::make_unique<SidekiqOutputHarness>(); }

}  // namespace sluice::conformance
