// The runtime end to end, in process, with test components that record what
// happens to every message: retries, dead letters, fan-out acks,
// backpressure, batching and shutdown. Also run under TSan.
#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <map>
#include <set>
#include <thread>

#include "config/config.h"
#include "logging/log.h"
#include "runtime/component.h"
#include "ratelimit/rate_limit.h"
#include "runtime/ack_batcher.h"
#include "runtime/engine.h"
#include "async/spawn.h"

namespace sluice::runtime {
namespace {

// Shared record of what the test components saw. One per test.
struct World {
  std::mutex mu;
  std::map<std::string, core::AckStatus> acks;        // source acks by payload
  std::map<std::string, std::set<std::string>> seen;  // output name -> payloads confirmed
  std::map<std::string, std::string> dead_reason;     // payload -> metadata "error"
  std::map<std::string, std::string> dead_attempts;
  std::vector<size_t> write_sizes;
  int64_t outstanding = 0, max_outstanding = 0;
  int in_flight = 0, max_in_flight = 0;
  std::map<std::string, int> attempts;
  int64_t reserves = 0;  // tokens asked of a FlakyBackend
  bool fanout_violation = false;
};
World* world = nullptr;

// Message `p`, counted as outstanding until its ack comes back.
core::Message tracked_message(const std::string& p) {
  core::Message m(p);
  {
    std::lock_guard lock(world->mu);
    world->max_outstanding = std::max(world->max_outstanding, ++world->outstanding);
  }
  m.set_ack(core::AckHandle::make([p](core::AckStatus s) {
    std::lock_guard lock(world->mu);
    --world->outstanding;
    world->acks[p] = s;
    // Fan-out: by the time the source hears "delivered", every output
    // must have confirmed this message.
    if (s == core::AckStatus::delivered && world->seen.count("a") && world->seen.count("b") &&
        (!world->seen["a"].count(p) || !world->seen["b"].count(p)))
      world->fanout_violation = true;
  }));
  return m;
}

// Emits `count` messages "m0".."mN" in batches of `batch`, each with its own ack.
class TestSource final : public Input {
 public:
  explicit TestSource(const config::Values& v)
      : count_(v.integer("count")), batch_(v.integer("batch")), forever_(v.boolean("forever")), pause_(v.duration("pause")) {}
  Task<core::Result<core::Batch>> read() override {
    if (closed_) co_return core::fail(core::Errc::closed);
    if (pause_.count() > 0) {  // a trickle: arrivals between the output's batching periods
      boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, pause_);
      co_await t.async_wait(boost::asio::use_awaitable);
    }
    if (!forever_ && next_ >= count_) co_return core::fail(core::Errc::end_of_input);
    core::Batch b;
    for (int64_t i = 0; i < batch_ && (forever_ || next_ < count_); ++i)
      b.messages.push_back(tracked_message("m" + std::to_string(next_++)));
    co_return b;
  }
  void close() override { closed_ = true; }

 private:
  int64_t count_, batch_;
  bool forever_;
  std::chrono::nanoseconds pause_;
  int64_t next_ = 0;  // read() calls are sequential with concurrency 1
  std::atomic<bool> closed_{false};
};

// A push input, as a webhook server is: from start() on it hands `count`
// messages (or, with `forever`, messages until closed) to the intake one at
// a time. A refused message is offered again 1 ms later, as a webhook
// sender retries after a 503; refusals are counted.
class TestPushSource final : public Input {
 public:
  explicit TestPushSource(const config::Values& v)
      : count_(v.integer("count")), capacity_(static_cast<size_t>(v.integer("capacity"))), forever_(v.boolean("forever")) {}
  size_t connect(Intake& intake) override {
    intake_ = &intake;
    return capacity_;
  }
  Task<void> start() override {
    auto ex = co_await boost::asio::this_coro::executor;
    async::spawn(ex, [this] { return pusher(); });
  }
  void close() override { closed_ = true; }
  ~TestPushSource() override {
    while (pushing_) std::this_thread::yield();  // the pusher ends within 1 ms of close()
  }
  static inline std::atomic<int64_t> refusals{0};

 private:
  Task<void> pusher() {
    boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor);
    for (int64_t i = 0; !closed_ && (forever_ || i < count_); ++i) {
      auto m = tracked_message("m" + std::to_string(i));
      while (!intake_->try_push(m)) {
        ++refusals;
        if (m.payload() != "m" + std::to_string(i)) ADD_FAILURE() << "a refused message came back changed";
        if (closed_) break;
        pause.expires_after(std::chrono::milliseconds(1));
        co_await pause.async_wait(boost::asio::use_awaitable);
      }
    }
    pushing_ = false;
  }

  int64_t count_;
  size_t capacity_;
  bool forever_;
  Intake* intake_ = nullptr;
  std::atomic<bool> closed_{false}, pushing_{true};
};

// Passes every message on unchanged: a pipeline with a processor.
class NoopProcessor final : public Processor {
 public:
  Task<void> process(core::Batch&, std::vector<Failure>&) override { co_return; }
};

// Emits messages forever, acknowledged through an AckBatcher whose bounds
// are never reached (an hour, a million): only drain() can flush its acks.
class BatchedAckSource final : public Input {
 public:
  explicit BatchedAckSource(boost::asio::io_context& io)
      : acks_(io, 1'000'000, std::chrono::hours(1), [](AckBatcher<std::string>::Groups g) -> Task<void> {
          std::lock_guard lock(world->mu);
          for (auto* group : {&g.delivered, &g.errored, &g.rejected}) {
            const auto status = group == &g.delivered ? core::AckStatus::delivered
                                : group == &g.errored ? core::AckStatus::errored
                                                      : core::AckStatus::rejected;
            for (const auto& p : *group) {
              world->acks[p] = status;
              --world->outstanding;
            }
          }
          co_return;
        }) {}
  Task<void> start() override {
    auto ex = co_await boost::asio::this_coro::executor;
    async::spawn(ex, [this] { return acks_.run(); });
  }
  Task<core::Result<core::Batch>> read() override {
    if (closed_) co_return core::fail(core::Errc::closed);
    core::Batch b;
    for (int i = 0; i < 5; ++i) {
      std::string p = "m" + std::to_string(next_++);
      {
        std::lock_guard lock(world->mu);
        ++world->outstanding;
      }
      core::Message m(p);
      m.set_ack(acks_.handle(p));
      b.messages.push_back(std::move(m));
    }
    co_return b;
  }
  void close() override { closed_ = true; }
  Task<void> drain() override { co_await acks_.drain(); }

 private:
  AckBatcher<std::string> acks_;
  int64_t next_ = 0;
  std::atomic<bool> closed_{false};
};

// A rate-limit backend that is down for its first `fail_first` calls (a
// shared limiter being restarted), then grants everything at once.
class FlakyBackend final : public ratelimit::Backend {
 public:
  explicit FlakyBackend(int64_t fail_first) : fail_first_(fail_first) {}
  Task<core::Result<int64_t>> reserve(std::string, double) override {
    if (calls_++ < fail_first_) co_return core::fail(core::Errc::unavailable, "limiter restarting");
    std::lock_guard lock(world->mu);
    ++world->reserves;
    co_return int64_t{0};
  }
  std::string describe() const override { return "flaky"; }
  int64_t calls() const { return calls_; }

 private:
  int64_t fail_first_;
  std::atomic<int64_t> calls_{0};
};

// Records confirmed payloads under `name`. Messages whose number is divisible
// by `always_fail_every` always fail (retry); `fail_first` attempts of every
// message fail; "reject_every" fails for good.
class TestOutput final : public Output {
 public:
  explicit TestOutput(const config::Values& v)
      : name_(v.str("name")),
        fail_first_(v.integer("fail_first")),
        always_fail_every_(v.integer("always_fail_every")),
        reject_every_(v.integer("reject_every")),
        delay_(v.duration("delay")) {}
  Task<BatchOutcome> write(core::Batch& batch) override {
    {
      std::lock_guard lock(world->mu);
      world->max_in_flight = std::max(world->max_in_flight, ++world->in_flight);
      world->write_sizes.push_back(batch.size());
    }
    if (delay_.count() > 0) {
      boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, delay_);
      co_await t.async_wait(boost::asio::use_awaitable);
    }
    BatchOutcome out;
    std::lock_guard lock(world->mu);
    --world->in_flight;
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& m = batch.messages[i];
      const int n = std::stoi(m.payload().substr(1));
      const int attempt = ++world->attempts[name_ + m.payload()];
      if (name_ == "dead") {
        world->dead_reason[m.payload()] = *m.meta().find("error");
        world->dead_attempts[m.payload()] = *m.meta().find("attempts");
      }
      if (reject_every_ && n % reject_every_ == 0) {
        out.set(i, batch.size(), WriteOutcome::reject("invalid number"));
      } else if ((always_fail_every_ && n % always_fail_every_ == 0) || attempt <= fail_first_) {
        out.set(i, batch.size(), WriteOutcome::retry("503 from peer"));
      } else {
        world->seen[name_].insert(m.payload());
      }
    }
    co_return out;
  }

 private:
  std::string name_;
  int64_t fail_first_, always_fail_every_, reject_every_;
  std::chrono::nanoseconds delay_;
};

const config::Registry& test_registry() {
  static const config::Registry r = [] {
    using config::Type;
    config::Registry reg;
    reg.add({.name = "test_source",
             .kind = config::Kind::input,
             .fields = {{.name = "count", .type = Type::integer, .default_value = "100"},
                        {.name = "batch", .type = Type::integer, .default_value = "10"},
                        {.name = "forever", .type = Type::boolean, .default_value = "false"},
                        {.name = "pause", .type = Type::duration, .default_value = "0s"}},
             .make_input = [](const config::Values& v, BuildContext&) -> std::unique_ptr<Input> {
               return std::make_unique<TestSource>(v);
             }});
    reg.add({.name = "test_push",
             .kind = config::Kind::input,
             .fields = {{.name = "count", .type = Type::integer, .default_value = "100"},
                        {.name = "capacity", .type = Type::integer, .default_value = "100"},
                        {.name = "forever", .type = Type::boolean, .default_value = "false"}},
             .make_input = [](const config::Values& v, BuildContext&) -> std::unique_ptr<Input> {
               return std::make_unique<TestPushSource>(v);
             }});
    reg.add({.name = "noop",
             .kind = config::Kind::processor,
             .make_processor = [](const config::Values&, BuildContext&) -> std::unique_ptr<Processor> {
               return std::make_unique<NoopProcessor>();
             }});
    reg.add({.name = "flaky",
             .kind = config::Kind::rate_limit_backend,
             .fields = {{.name = "fail_first", .type = Type::integer, .default_value = "0"}},
             .make_rate_limit_backend = [](const config::Values& v, const config::RateLimitConfig&,
                                           BuildContext&) -> std::unique_ptr<ratelimit::Backend> {
               return std::make_unique<FlakyBackend>(v.integer("fail_first"));
             }});
    reg.add({.name = "batched_ack_source",
             .kind = config::Kind::input,
             .make_input = [](const config::Values&, BuildContext& ctx) -> std::unique_ptr<Input> {
               return std::make_unique<BatchedAckSource>(ctx.io());
             }});
    reg.add({.name = "test_output",
             .kind = config::Kind::output,
             .fields = {{.name = "name", .default_value = "a"},
                        {.name = "fail_first", .type = Type::integer, .default_value = "0"},
                        {.name = "always_fail_every", .type = Type::integer, .default_value = "0"},
                        {.name = "reject_every", .type = Type::integer, .default_value = "0"},
                        {.name = "delay", .type = Type::duration, .default_value = "0s"}},
             .make_output = [](const config::Values& v, BuildContext&) -> std::unique_ptr<Output> {
               return std::make_unique<TestOutput>(v);
             }});
    return reg;
  }();
  return r;
}

class PipelineTest : public ::testing::Test {
 public:  // for the helpers below the fixture
  void SetUp() override {
    logging::setup("error", "text");
    world = &w;
  }
  void TearDown() override { world = nullptr; }

  // What run() expects the engine to return: 3 when messages are lost for good.
  int expected_exit_ = 0;

  // Runs the config until its inputs are exhausted (or `stop_after` elapses).
  void run(const std::string& pipeline_yaml, std::chrono::milliseconds stop_after = std::chrono::milliseconds(0),
           const std::string& top = "", const core::Clock& clock = core::SteadyClock::instance()) {
    const std::string yaml = "admin: {enabled: false}\nthreads: 2\nshutdown_timeout: 5s\n" + top + "pipelines:\n  p:\n" + pipeline_yaml;
    auto cfg = config::load_string(yaml, "test.yaml", test_registry());
    ASSERT_TRUE(cfg) << cfg.error().to_string();
    Engine engine(*cfg, test_registry(), {}, clock);
    std::thread stopper;
    if (stop_after.count() > 0) {
      stopper = std::thread([&] {
        std::this_thread::sleep_for(stop_after);
        engine.request_stop();
      });
    }
    EXPECT_EQ(engine.run(), expected_exit_);
    if (stopper.joinable()) stopper.join();
  }

  // Waits up to `limit` for `done`, reading the world under its lock.
  bool eventually(const std::function<bool(World&)>& done, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      {
        std::lock_guard lock(w.mu);
        if (done(w)) return true;
      }
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  int count_acks(core::AckStatus s) {
    int n = 0;
    for (const auto& [p, st] : w.acks) n += st == s;
    return n;
  }

  World w;
};

TEST_F(PipelineTest, RetriesThenDeadLettersAndLosesNothing) {
  run(R"(
    input: {test_source: {count: 100}}
    output:
      test_output: {name: a, fail_first: 2, always_fail_every: 10}
      retry: {max_attempts: 3, initial: 1ms, max: 2ms}
      dead_letter: {test_output: {name: dead}}
)");
  ASSERT_EQ(w.acks.size(), 100u);                       // every message acknowledged once
  EXPECT_EQ(count_acks(core::AckStatus::delivered), 100);  // 90 written, 10 dead-lettered
  EXPECT_EQ(w.seen["a"].size(), 90u);
  EXPECT_EQ(w.seen["dead"].size(), 10u);
  EXPECT_EQ(w.dead_reason["m10"], "gave up after 3 attempts: 503 from peer");
  EXPECT_EQ(w.dead_attempts["m10"], "3");
  EXPECT_EQ(w.attempts["am1"], 3);  // failed twice, then written
}

// The dead letter is a stage like any other: its `then`, batching and
// concurrency work, and the run ends once it has written everything.
TEST_F(PipelineTest, DeadLetterStageRunsItsThenAndBatching) {
  run(R"(
    input: {test_source: {count: 200, batch: 10}}
    output:
      test_output: {name: a, reject_every: 1}
      dead_letter:
        test_output: {name: dead}
        batching: {count: 50, period: 1h}
        max_in_flight: 2
        then: {test_output: {name: dlthen}}
)");
  ASSERT_EQ(w.acks.size(), 200u);
  EXPECT_EQ(count_acks(core::AckStatus::delivered), 200) << "each dead-lettered and confirmed by the dead letter's then";
  EXPECT_EQ(w.seen["a"].size(), 0u);
  EXPECT_EQ(w.seen["dead"].size(), 200u);
  EXPECT_EQ(w.seen["dlthen"].size(), 200u) << "the dead letter's then was never fed";
  EXPECT_TRUE(std::find(w.write_sizes.begin(), w.write_sizes.end(), 50u) != w.write_sizes.end())
      << "the dead letter's batching was ignored";
}

TEST_F(PipelineTest, PermanentFailureSkipsRetriesAndWithoutDeadLetterNacks) {
  expected_exit_ = 3;  // 10 lost with no dead letter: the finite run says so
  run(R"(
    input: {test_source: {count: 50}}
    output:
      test_output: {name: a, reject_every: 5}
      retry: {max_attempts: 5, initial: 1ms, max: 2ms}
)");
  ASSERT_EQ(w.acks.size(), 50u);
  EXPECT_EQ(count_acks(core::AckStatus::rejected), 10);
  EXPECT_EQ(count_acks(core::AckStatus::delivered), 40);
  EXPECT_EQ(w.attempts["am5"], 1);  // never retried
}

TEST_F(PipelineTest, FanOutAcksOnlyWhenEveryOutputConfirmed) {
  run(R"(
    input: {test_source: {count: 200}}
    outputs:
      - test_output: {name: a}
      - test_output: {name: b, fail_first: 1, delay: 1ms}
        retry: {initial: 1ms, max: 2ms}
)");
  ASSERT_EQ(w.acks.size(), 200u);
  EXPECT_EQ(count_acks(core::AckStatus::delivered), 200);
  EXPECT_EQ(w.seen["a"].size(), 200u);
  EXPECT_EQ(w.seen["b"].size(), 200u);
  EXPECT_FALSE(w.fanout_violation);
}

TEST_F(PipelineTest, FanOutWithOneFailingOutputNacksTheSource) {
  expected_exit_ = 3;
  run(R"(
    input: {test_source: {count: 20}}
    outputs:
      - test_output: {name: a}
      - test_output: {name: b, always_fail_every: 1}
        retry: {max_attempts: 2, initial: 1ms, max: 1ms}
)");
  ASSERT_EQ(w.acks.size(), 20u);
  EXPECT_EQ(count_acks(core::AckStatus::rejected), 20);  // a confirmed, b gave up: not delivered
}

// A slow output and an endless input: the channels and max_in_flight must
// stop the input from reading ahead without bound. `held`: the most
// messages the pipeline may hold at once.
void expect_backpressure(PipelineTest& t, const std::string& processors, int64_t held) {
  t.run(R"(
    processor_workers: 2
    input: {test_source: {batch: 10, forever: true}}
)" + processors + R"(
    output:
      test_output: {name: a, delay: 2ms}
      max_in_flight: 4
)",
        std::chrono::milliseconds(500));
  EXPECT_LE(world->max_outstanding, held);
  EXPECT_GT(world->max_outstanding, 0);
  EXPECT_LE(world->max_in_flight, 4);
  EXPECT_GT(world->seen["a"].size(), 0u);
}

TEST_F(PipelineTest, BackpressureBoundsWhatIsInFlight) {
  // Processor channel (2 x workers) + workers (2) + output channel
  // (max_in_flight) + writers (max_in_flight) + the reader's own:
  // 4 + 2 + 4 + 4 + 1 = 15 batches of 10.
  expect_backpressure(*this, "    processors: [{noop: {}}]", 150);
}

TEST_F(PipelineTest, BackpressureBoundsAPassThroughPipeline) {
  // No processors: the reader feeds the output's channel directly. Output
  // channel (max_in_flight) + writers (max_in_flight) + the reader's own:
  // 4 + 4 + 1 = 9 batches of 10.
  expect_backpressure(*this, "", 90);
}

// What every push test checks: each message the source made was acked, as
// delivered, and reached the output; none was lost or sent twice.
void expect_all_delivered(World& w, size_t made) {
  EXPECT_EQ(w.outstanding, 0);
  ASSERT_EQ(w.acks.size(), made);
  for (const auto& [p, status] : w.acks) EXPECT_EQ(status, core::AckStatus::delivered) << p;
  EXPECT_EQ(w.seen["a"].size(), made);
}

TEST_F(PipelineTest, PushInputLosesNothingAndWaitingMessagesAreWrittenTogether) {
  TestPushSource::refusals = 0;
  run(R"(
    input: {test_push: {count: 2000, capacity: 50}}
    output:
      test_output: {name: a, delay: 1ms}
      max_in_flight: 2
)",
      std::chrono::milliseconds(1500));
  expect_all_delivered(w, 2000);
  EXPECT_GT(TestPushSource::refusals, 0) << "a slow output never filled the intake";
  EXPECT_GT(*std::max_element(w.write_sizes.begin(), w.write_sizes.end()), 1u) << "every write had one message";
  // Held at once: the intake's capacity, plus what two writers took (256
  // each at most), plus the one the source is offering.
  EXPECT_LE(w.max_outstanding, 50 + 2 * 256 + 1);
}

TEST_F(PipelineTest, PushInputThroughProcessorsLosesNothing) {
  TestPushSource::refusals = 0;
  run(R"(
    input: {test_push: {count: 2000, capacity: 50}}
    processors: [{noop: {}}]
    output:
      test_output: {name: a, delay: 1ms}
      max_in_flight: 2
)",
      std::chrono::milliseconds(1500));
  expect_all_delivered(w, 2000);
  EXPECT_GT(TestPushSource::refusals, 0);
}

TEST_F(PipelineTest, PushInputIsRefusedAfterStopAndTheRestDrains) {
  run(R"(
    input: {test_push: {forever: true, capacity: 20}}
    output:
      test_output: {name: a, delay: 2ms}
      max_in_flight: 2
)",
      std::chrono::milliseconds(300));
  // The source offers until it is closed; what the pipeline took was
  // written before it stopped, and the one message refused at the end
  // (dropped by the source) is the only one not delivered.
  EXPECT_EQ(w.outstanding, 0);
  size_t errored = 0;
  for (const auto& [p, status] : w.acks) {
    if (status == core::AckStatus::delivered)
      EXPECT_TRUE(w.seen["a"].count(p)) << p << " acked but never written";
    else
      ++errored;
  }
  EXPECT_LE(errored, 1u);
  EXPECT_GT(w.seen["a"].size(), 0u);
}

TEST_F(PipelineTest, BatchingGroupsByCount) {
  run(R"(
    input: {test_source: {count: 100, batch: 3}}
    output:
      test_output: {name: a}
      batching: {count: 7, period: 50ms}
)");
  ASSERT_EQ(w.seen["a"].size(), 100u);
  size_t total = 0;
  for (size_t i = 0; i < w.write_sizes.size(); ++i) {
    total += w.write_sizes[i];
    EXPECT_LE(w.write_sizes[i], 7u);
  }
  EXPECT_EQ(total, 100u);
  // 100 = 14 x 7 + 2: at most one short batch per period flush at the end.
  EXPECT_GE(std::count(w.write_sizes.begin(), w.write_sizes.end(), 7u), 13);
}

// The batcher waits for a batch or the end of `period`, whichever comes
// first; a batch that arrives just as the period ends must not be lost.
TEST_F(PipelineTest, BatchingPeriodLosesNothingWhenItRacesArrivals) {
  run(R"(
    input: {test_source: {count: 3000, batch: 1, pause: 100us}}
    output:
      test_output: {name: a}
      batching: {count: 50, period: 1ms}
)");
  EXPECT_EQ(w.seen["a"].size(), 3000u);
  EXPECT_EQ(count_acks(core::AckStatus::delivered), 3000);
  EXPECT_EQ(w.outstanding, 0);
}

TEST_F(PipelineTest, ShutdownDrainsInFlightWork) {
  run(R"(
    input: {test_source: {batch: 5, forever: true}}
    output:
      test_output: {name: a, delay: 5ms}
      max_in_flight: 8
)",
      std::chrono::milliseconds(300));
  // Everything read was written and acked before exit: a clean drain.
  EXPECT_EQ(w.outstanding, 0);
  EXPECT_EQ(count_acks(core::AckStatus::delivered), static_cast<int>(w.acks.size()));
  EXPECT_EQ(w.seen["a"].size(), w.acks.size());
}

// A clean stop flushes an input's batched acks: Input::drain runs after the
// outputs finished and before the engine stops its io_context.
TEST_F(PipelineTest, CleanStopFlushesBatchedAcks) {
  run(R"(
    input: {batched_ack_source: {}}
    output:
      test_output: {name: a, delay: 2ms}
      max_in_flight: 4
)",
      std::chrono::milliseconds(300));
  ASSERT_GT(w.seen["a"].size(), 0u);
  EXPECT_EQ(w.outstanding, 0) << "acks of messages read were never flushed to the source";
  EXPECT_EQ(count_acks(core::AckStatus::delivered), static_cast<int>(w.seen["a"].size()));
  EXPECT_EQ(w.acks.size(), w.seen["a"].size()) << "every message written is acknowledged once, and only those";
}

// The rate limit's backend comes from the config; when it cannot be asked,
// the output waits and asks again: nothing fails for good, nothing is lost.
TEST_F(PipelineTest, RateLimitBackendErrorsAreTransient) {
  run(R"(
    input: {test_source: {count: 40, batch: 10}}
    output:
      test_output: {name: a}
      rate_limit: fleet
      retry: {initial: 1ms, max: 5ms}
)",
      std::chrono::milliseconds(0), "rate_limits:\n  fleet: {rate: 1000/s, burst: 100, flaky: {fail_first: 5}}\n");
  EXPECT_EQ(w.seen["a"].size(), 40u);
  EXPECT_EQ(count_acks(core::AckStatus::delivered), 40) << "a limiter outage must not fail messages for good";
}

// Tokens are taken per attempt, as documented on `rate_limit`: a retry is
// another request to the peer, which counts it against its limit too.
TEST_F(PipelineTest, RateLimitTokensAreTakenOncePerAttempt) {
  run(R"(
    input: {test_source: {count: 10, batch: 10}}
    output:
      test_output: {name: a, fail_first: 1}
      rate_limit: fleet
      retry: {initial: 1ms, max: 5ms}
)",
      std::chrono::milliseconds(0), "rate_limits:\n  fleet: {rate: 1000/s, burst: 100, flaky: {fail_first: 0}}\n");
  EXPECT_EQ(count_acks(core::AckStatus::delivered), 10);
  EXPECT_EQ(w.attempts["am0"], 2);
  EXPECT_EQ(w.reserves, 20) << "10 messages, each written twice";
}

// Retry backoff and batching periods are measured on the engine's clock: on
// a clock the test moves, an hour's wait ends when the test says so, not
// before. The `run` below stops the engine after the test's checks.
TEST_F(PipelineTest, RetryBackoffWaitsOnTheInjectedClock) {
  core::ManualClock clock;
  std::thread mover([&] {
    EXPECT_FALSE(eventually([](World& now) { return !now.seen["a"].empty(); }, std::chrono::milliseconds(300)))
        << "retried before the hour of backoff passed";
    clock.advance(std::chrono::hours(2));
    EXPECT_TRUE(eventually([](World& now) { return now.seen["a"].size() == 3; })) << "never retried";
  });
  run(R"(
    input: {test_source: {count: 3, batch: 3}}
    output:
      test_output: {name: a, fail_first: 1}
      retry: {initial: 1h, max: 1h}
)",
      std::chrono::milliseconds(0), "", clock);
  mover.join();
  EXPECT_EQ(count_acks(core::AckStatus::delivered), 3);
  EXPECT_EQ(w.attempts["am0"], 2);
}

TEST_F(PipelineTest, BatchingPeriodWaitsOnTheInjectedClock) {
  core::ManualClock clock;
  std::thread mover([&] {
    EXPECT_FALSE(eventually([](World& now) { return !now.seen["a"].empty(); }, std::chrono::milliseconds(300)))
        << "flushed before the hour's period ended";
    clock.advance(std::chrono::hours(2));
    EXPECT_TRUE(eventually([](World& now) { return now.seen["a"].size() == 3; })) << "the period never ended";
  });
  run(R"(
    input: {test_push: {count: 3}}
    output:
      test_output: {name: a}
      batching: {count: 100, period: 1h}
)",
      std::chrono::milliseconds(1000), "", clock);
  mover.join();
  EXPECT_EQ(count_acks(core::AckStatus::delivered), 3);
  ASSERT_EQ(w.write_sizes.size(), 1u);
  EXPECT_EQ(w.write_sizes[0], 3u);
}

}  // namespace
}  // namespace sluice::runtime
