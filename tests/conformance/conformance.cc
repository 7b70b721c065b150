#include "conformance.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <future>
#include <map>
#include <random>
#include <sstream>

#include "async/spawn.h"

namespace sluice::conformance {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

std::string indent(const std::string& block, int spaces) {
  std::istringstream in(block);
  std::string line, out;
  while (std::getline(in, line)) out += std::string(static_cast<size_t>(spaces), ' ') + line + "\n";
  return out;
}

std::filesystem::path make_temp_dir() {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() / fmt::format("sluice-conformance-{:016x}", uint64_t{rd()} << 32 | rd());
  std::filesystem::create_directories(dir);
  return dir;
}

// The suite's messages: JSON objects, so that every input (an HTTP body, a
// JSON line) carries them unchanged.
std::vector<std::string> payloads(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 1; i <= n; ++i) out.push_back(fmt::format(R"({{"id":"c-{}"}})", i));
  return out;
}

std::string describe(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  std::string out;
  for (size_t i = 0; i < v.size() && i < 5; ++i) out += (i ? ", " : "") + v[i];
  if (v.size() > 5) out += fmt::format(", ... ({} in all)", v.size());
  return v.empty() ? "nothing" : out;
}

bool same_set(std::vector<std::string> a, std::vector<std::string> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

// Reads until `n` messages arrived, the input ended, or `limit` passed.
struct ReadResult {
  std::vector<core::Message> messages;
  std::string error;  // why reading stopped early, empty if it did not
  bool finished = true;
};

ReadResult read_n(Env& env, runtime::Input& input, size_t n, std::chrono::milliseconds limit) {
  auto out = std::make_shared<ReadResult>();
  auto task = [&input, out, n]() -> runtime::Task<void> {
    while (out->messages.size() < n) {
      auto r = co_await input.read();
      if (!r) {
        out->error = r.error().to_string();
        co_return;
      }
      for (auto& m : r->messages) out->messages.push_back(std::move(m));
    }
  };
  if (!env.run(task, limit)) {
    input.close();  // ends the pending read, so the task lets go of `out`
    env.run([]() -> runtime::Task<void> { co_return; }, 1000ms);
    std::this_thread::sleep_for(50ms);
    out->finished = false;
  }
  return std::move(*out);
}

std::vector<std::string> payloads_of(const InputHarness& h, const std::vector<core::Message>& ms) {
  std::vector<std::string> out;
  for (const auto& m : ms) out.push_back(h.seen_as(m.payload()));
  return out;
}

bool start(Env& env, runtime::Input& input, Violations& v) {
  if (env.run([&input] { return input.start(); }, 2000ms)) return true;
  v.push_back("start() did not return within 2 s");
  return false;
}

void drain(Env& env, runtime::Input& input, Violations& v, const std::string& when) {
  if (!env.run([&input] { return input.drain(); }, 5000ms))
    v.push_back(fmt::format("{}: drain() did not return within 5 s", when));
}

// Produces `n` messages, reads them and resolves every one with `status`.
// Returns false (with violations) if that much did not work.
bool read_and_resolve(Env& env, InputHarness& h, runtime::Input& input, size_t n, core::AckStatus status,
                      const std::string& when, Violations& v) {
  const auto want = payloads(n);
  if (!start(env, input, v)) return false;
  h.produce(env, want);
  auto got = read_n(env, input, n, 5000ms);
  if (!got.finished || got.messages.size() < n) {
    v.push_back(fmt::format("{}: read {} of {} produced messages{}", when, got.messages.size(), n,
                            got.error.empty() ? " within 5 s" : "; read() failed: " + got.error));
    return false;
  }
  const auto seen = payloads_of(h, got.messages);
  if (!same_set(seen, want))
    v.push_back(fmt::format("{}: read {} instead of what was produced ({})", when, describe(seen), describe(want)));
  for (auto& m : got.messages) m.ack().resolve(status);
  got.messages.clear();
  return true;
}

void check_read_and_ack(const std::function<std::unique_ptr<InputHarness>()>& make, const config::Registry& reg,
                        Violations& v) {
  const std::string when = "delivered";
  Env env(reg);  // first: a harness's peer may live on its io_context
  auto h = make();
  auto input = env.make_input(h->block(env, payloads(20)));
  if (!read_and_resolve(env, *h, *input, 20, core::AckStatus::delivered, when, v)) return;
  input->close();
  drain(env, *input, v, when);
  input.reset();
  env.release_shared();
  if (!h->acknowledges()) return;
  if (auto again = h->redeliverable(env); !again.empty())
    v.push_back(fmt::format("{}: acked messages would be delivered again: {}", when, describe(again)));
  if (auto dead = h->dead(env); !dead.empty())
    v.push_back(fmt::format("{}: acked messages went to the dead letter: {}", when, describe(dead)));
}

void check_nack(const std::function<std::unique_ptr<InputHarness>()>& make, const config::Registry& reg,
                core::AckStatus status, Violations& v) {
  const std::string when = core::to_string(status);
  Env env(reg);
  auto h = make();
  if (!h->acknowledges()) return;
  const auto want = payloads(10);
  auto input = env.make_input(h->block(env, want));
  if (!read_and_resolve(env, *h, *input, 10, status, when, v)) return;
  input->close();
  drain(env, *input, v, when);
  input.reset();
  env.release_shared();
  const auto again = h->redeliverable(env);
  const auto dead = h->dead(env);
  const bool retry = status == core::AckStatus::errored;
  const auto& expected = retry ? again : dead;
  const auto& unexpected = retry ? dead : again;
  if (!same_set(expected, want))
    v.push_back(fmt::format("{}: the source {} {} instead of every message ({})", when,
                            retry ? "would deliver again" : "dead-lettered", describe(expected), describe(want)));
  if (!unexpected.empty())
    v.push_back(fmt::format("{}: the source also {} {}", when, retry ? "dead-lettered" : "would deliver again",
                            describe(unexpected)));
}

void check_prompt_close(const std::function<std::unique_ptr<InputHarness>()>& make, const config::Registry& reg,
                        Violations& v) {
  const std::string when = "close";
  Env env(reg);  // first: a harness's peer may live on its io_context
  auto h = make();
  h->make_idle(env);
  auto input = env.make_input(h->block(env, {}));
  if (!start(env, *input, v)) return;
  // Read until a read waits (a source with messages configured, like a
  // generator, may hand out a first batch), then close and time the wait.
  auto state = std::make_shared<std::promise<std::string>>();
  auto ended = state->get_future();
  auto reader = [&input, state]() -> runtime::Task<void> {
    for (;;) {
      auto r = co_await input->read();
      if (!r) {
        state->set_value(r.error().is(core::Errc::closed) ? "" : r.error().to_string());
        co_return;
      }
      r->resolve_all(core::AckStatus::delivered);
    }
  };
  async::spawn(env.io(), reader);
  if (ended.wait_for(300ms) == std::future_status::ready) {
    v.push_back(fmt::format("{}: with nothing to read, read() returned at once ({})", when, ended.get()));
    return;
  }
  input->close();
  if (ended.wait_for(1000ms) != std::future_status::ready) {
    v.push_back(fmt::format("{}: a pending read() did not end within 1 s of close()", when));
    ended.wait_for(10s);  // let the reader go before the input does
  } else if (auto why = ended.get(); !why.empty()) {
    v.push_back(fmt::format("{}: the pending read() ended with '{}' instead of closed", when, why));
  }
  drain(env, *input, v, when);
}

void check_drain_flushes(const std::function<std::unique_ptr<InputHarness>()>& make, const config::Registry& reg,
                         Violations& v) {
  const std::string when = "drain";
  Env env(reg);
  auto h = make();
  if (!h->acknowledges()) return;
  auto input = env.make_input(h->block(env, payloads(10)));
  if (!read_and_resolve(env, *h, *input, 10, core::AckStatus::delivered, when, v)) return;
  input->close();
  drain(env, *input, v, when);
  // The input is still there: only drain() can have sent these acks. A
  // source may apply them asynchronously, so give it a moment.
  const auto deadline = std::chrono::steady_clock::now() + 1s;
  size_t acked = 0;
  while ((acked = h->acknowledged(env)) < 10 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  if (acked < 10)
    v.push_back(fmt::format("{}: 1 s after drain() returned, the source had {} of 10 acks", when, acked));
}

}  // namespace

Env::Env(const config::Registry& registry) : registry_(registry), dir_(make_temp_dir()) {
  work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(io_.get_executor());
  for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  base_.data_dir = dir_.string();
  ctx_ = std::make_unique<runtime::BuildContext>(io_, base_, metrics_,
                                                 [](const std::string&) -> ratelimit::RateLimit* { return nullptr; });
  ctx_->set_pipeline("conformance");
}

Env::~Env() {
  ctx_->release_shared();
  work_.reset();
  io_.stop();
  for (auto& t : threads_) t.join();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

const config::PipelineConfig& Env::load(const std::string& input_block, const std::string& output_block) {
  const std::string yaml = fmt::format("data_dir: {}\nadmin: {{enabled: false}}\npipelines:\n  conformance:\n    input:\n{}    output:\n{}",
                                       dir_.string(), indent(input_block, 6), indent(output_block, 6));
  auto cfg = config::load_string(yaml, "conformance.yaml", registry_);
  if (!cfg) {
    throw std::runtime_error("conformance config does not load:\n" + yaml + cfg.error().to_string());
  }
  configs_.push_back(std::make_unique<config::Config>(std::move(*cfg)));
  return configs_.back()->pipelines.front();
}

namespace {

// A push input under test, read as the pipeline would see it: what it
// pushes waits in an intake as big as the input asks for, and read() takes
// what waits. close() closes the input, then ends a pending read.
class PushedInput final : public runtime::Input, public runtime::Intake {
 public:
  PushedInput(asio::io_context& io, std::unique_ptr<runtime::Input> input)
      : input_(std::move(input)), capacity_(input_->connect(*this)), waiting_(io, std::max<size_t>(1, capacity_)) {}
  ~PushedInput() override { input_.reset(); }  // before the intake it pushes into

  // A pull input (it asked for no intake) is handed back, to be read itself.
  bool pushes() const { return capacity_ > 0; }
  std::unique_ptr<runtime::Input> release() { return std::move(input_); }

  bool try_push(core::Message& m) override {
    // try_send leaves its argument alone when the channel is full.
    return waiting_.try_send(boost::system::error_code{}, std::move(m));
  }
  runtime::Task<void> start() override { co_await input_->start(); }
  runtime::Task<core::Result<core::Batch>> read() override {
    auto [ec, first] = co_await waiting_.async_receive(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return core::fail(core::Errc::closed);
    core::Batch b;
    b.messages.push_back(std::move(first));
    while (waiting_.try_receive([&](boost::system::error_code e, core::Message m) {
      if (!e) b.messages.push_back(std::move(m));
    })) {
    }
    co_return b;
  }
  void close() override {
    input_->close();
    waiting_.close();
  }
  runtime::Task<void> drain() override { co_await input_->drain(); }

 private:
  std::unique_ptr<runtime::Input> input_;
  size_t capacity_;
  asio::experimental::concurrent_channel<void(boost::system::error_code, core::Message)> waiting_;
};

}  // namespace

std::unique_ptr<runtime::Input> Env::make_input(const std::string& block) {
  const auto& p = load(block, "drop: {}");
  auto pushed = std::make_unique<PushedInput>(io_, p.input.component.spec->make_input(p.input.component.values, *ctx_));
  if (!pushed->pushes()) return pushed->release();
  return pushed;
}

std::unique_ptr<runtime::Output> Env::make_output(const std::string& block) {
  const auto& p = load("generate: {count: 1}", block);
  return p.outputs.front().component.spec->make_output(p.outputs.front().component.values, *ctx_);
}

bool Env::run(std::function<runtime::Task<void>()> task, std::chrono::milliseconds limit) {
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  asio::co_spawn(io_, task(), [done](std::exception_ptr e) {
    if (e) done->set_exception(e);
    else done->set_value();
  });
  if (future.wait_for(limit) != std::future_status::ready) return false;
  future.get();
  return true;
}

void Env::release_shared() { ctx_->release_shared(); }

Violations check_input(const std::function<std::unique_ptr<InputHarness>()>& make, const config::Registry& reg) {
  Violations v;
  check_read_and_ack(make, reg, v);
  check_nack(make, reg, core::AckStatus::errored, v);
  check_nack(make, reg, core::AckStatus::rejected, v);
  check_prompt_close(make, reg, v);
  check_drain_flushes(make, reg, v);
  return v;
}

// --- outputs ---------------------------------------------------------------

namespace {

using Kind = OutputHarness::Kind;

struct Written {
  std::vector<runtime::WriteOutcome> outcomes;
  bool finished = false;
};

// Writes the messages in batches of the output's max_batch, as the runtime
// does, and collects one outcome per message.
Written write_all(Env& env, runtime::Output& out, std::vector<core::Message> messages) {
  auto result = std::make_shared<Written>();
  auto task = [&out, result, ms = std::move(messages)]() mutable -> runtime::Task<void> {
    const size_t step = out.max_batch() == 0 ? ms.size() : out.max_batch();
    for (size_t i = 0; i < ms.size(); i += step) {
      core::Batch b;
      for (size_t j = i; j < std::min(ms.size(), i + step); ++j) b.messages.push_back(ms[j]);
      runtime::BatchOutcome o = co_await out.write(b);
      for (size_t j = 0; j < b.size(); ++j) result->outcomes.push_back(o.at(j));
    }
    for (auto& m : ms) m.ack().resolve(core::AckStatus::delivered);
  };
  result->finished = env.run(std::move(task), 10000ms);
  return std::move(*result);
}

const char* kind_name(runtime::WriteOutcome::Kind k) {
  switch (k) {
    case runtime::WriteOutcome::Kind::ok: return "ok";
    case runtime::WriteOutcome::Kind::retry: return "retry";
    case runtime::WriteOutcome::Kind::reject: return "reject";
  }
  return "?";
}

// Messages to write: their ids, how the peer must answer each (its
// payload's kind), and the outcome the write must report.
struct Plan {
  std::vector<std::string> ids;
  std::vector<Kind> kinds;
  std::vector<runtime::WriteOutcome::Kind> expect;
};

runtime::WriteOutcome::Kind outcome_for(Kind k) {
  switch (k) {
    case Kind::ok: return runtime::WriteOutcome::Kind::ok;
    case Kind::transient: return runtime::WriteOutcome::Kind::retry;
    case Kind::permanent: return runtime::WriteOutcome::Kind::reject;
  }
  return runtime::WriteOutcome::Kind::ok;
}

// Writes `plan`, checks each outcome against its kind; returns the ids that
// must be written again (the transient ones).
std::vector<std::string> write_and_check(Env& env, OutputHarness& h, runtime::Output& out, const Plan& plan,
                                         const std::string& when, Violations& v) {
  std::vector<core::Message> ms;
  for (size_t i = 0; i < plan.ids.size(); ++i) ms.emplace_back(h.payload(plan.ids[i], plan.kinds[i]));
  auto w = write_all(env, out, std::move(ms));
  if (!w.finished) {
    v.push_back(fmt::format("{}: write() did not return within 10 s", when));
    return {};
  }
  std::vector<std::string> again;
  for (size_t i = 0; i < plan.ids.size(); ++i) {
    const auto& o = w.outcomes[i];
    const auto want = plan.expect[i];
    if (o.kind != want)
      v.push_back(fmt::format("{}: message {} ended '{}' instead of '{}'{}", when, plan.ids[i], kind_name(o.kind),
                              kind_name(want), o.reason.empty() ? "" : " (" + o.reason + ")"));
    else if (want != runtime::WriteOutcome::Kind::ok && o.reason.empty())
      v.push_back(fmt::format("{}: message {} ended '{}' without a reason", when, plan.ids[i], kind_name(o.kind)));
    if (want == runtime::WriteOutcome::Kind::retry) again.push_back(plan.ids[i]);
  }
  return again;
}

void close_output(Env& env, std::unique_ptr<runtime::Output>& out, const std::string& when, Violations& v) {
  if (!env.run([&out] { return out->close(); }, 5000ms)) v.push_back(fmt::format("{}: close() did not return within 5 s", when));
  out.reset();
}

void expect_received(Env& env, OutputHarness& h, const std::vector<std::string>& confirmed, const std::string& when,
                     Violations& v) {
  if (!h.observable()) return;
  auto got = h.received(env);
  if (!same_set(got, confirmed))
    v.push_back(fmt::format("{}: the peer holds {} instead of the confirmed {}", when, describe(got),
                            describe(confirmed)));
}

void check_output_kinds(const std::function<std::unique_ptr<OutputHarness>()>& make, const config::Registry& reg,
                        Kind mixed, Violations& v) {
  Env env(reg);
  auto h = make();
  if (mixed != Kind::ok && !h->supports(mixed)) return;
  const std::string when = mixed == Kind::ok ? "ok" : mixed == Kind::transient ? "transient" : "permanent";
  auto out = env.make_output(h->block(env));
  Plan plan;
  std::vector<std::string> confirmed;
  for (int i = 1; i <= 12; ++i) {
    const Kind k = (mixed != Kind::ok && i % 3 == 0) ? mixed : Kind::ok;
    plan.ids.push_back(fmt::format("{}-{}", when, i));
    plan.kinds.push_back(k);
    plan.expect.push_back(outcome_for(k));
    if (k != Kind::permanent) confirmed.push_back(plan.ids.back());
  }
  auto again = write_and_check(env, *h, *out, plan, when, v);
  if (!again.empty()) {
    // The runtime writes only the failed entries again; the peer takes a
    // transient message the second time.
    const size_t n = again.size();
    Plan retry{again, std::vector<Kind>(n, Kind::transient), std::vector(n, runtime::WriteOutcome::Kind::ok)};
    write_and_check(env, *h, *out, retry, when + " (second attempt)", v);
  }
  close_output(env, out, when, v);
  env.release_shared();
  expect_received(env, *h, confirmed, when, v);
}

void check_unreachable(const std::function<std::unique_ptr<OutputHarness>()>& make, const config::Registry& reg,
                       Violations& v) {
  Env env(reg);  // first: a harness's peer may live on its io_context
  auto h = make();
  const std::string block = h->unreachable_block(env);
  if (block.empty()) return;
  auto out = env.make_output(block);
  Plan plan{{"unreachable-1", "unreachable-2", "unreachable-3"}, std::vector<Kind>(3, Kind::ok),
            std::vector(3, runtime::WriteOutcome::Kind::retry)};
  write_and_check(env, *h, *out, plan, "unreachable peer", v);
  close_output(env, out, "unreachable peer", v);
}

}  // namespace

Violations check_output(const std::function<std::unique_ptr<OutputHarness>()>& make, const config::Registry& reg) {
  Violations v;
  check_output_kinds(make, reg, Kind::ok, v);
  check_output_kinds(make, reg, Kind::transient, v);
  check_output_kinds(make, reg, Kind::permanent, v);
  check_unreachable(make, reg, v);
  return v;
}

}  // namespace sluice::conformance
