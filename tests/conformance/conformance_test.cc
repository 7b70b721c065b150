// Runs the conformance suite over every input and output in the component
// list, and over two deliberately broken connectors, which must fail it.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>
#include <set>

#include "components/component_list.h"
#include "connectors/queue/queue.h"
#include "connectors/queue/store.h"
#include "harnesses.h"
#include "logging/log.h"

namespace sluice::conformance {
namespace {

std::string joined(const Violations& v) {
  std::string out;
  for (const auto& s : v) out += "\n  - " + s;
  return out;
}

class InputConformance : public ::testing::TestWithParam<InputCase> {};
class OutputConformance : public ::testing::TestWithParam<OutputCase> {};

TEST_P(InputConformance, KeepsTheInputContract) {
  const auto v = check_input(GetParam().make, components::component_list());
  EXPECT_TRUE(v.empty()) << "input '" << GetParam().name << "' breaks the contract:" << joined(v);
}

TEST_P(OutputConformance, KeepsTheOutputContract) {
  const auto v = check_output(GetParam().make, components::component_list());
  EXPECT_TRUE(v.empty()) << "output '" << GetParam().name << "' breaks the contract:" << joined(v);
}

INSTANTIATE_TEST_SUITE_P(Every, InputConformance, ::testing::ValuesIn(input_cases()),
                         [](const auto& param_info) { return param_info.param.name; });
INSTANTIATE_TEST_SUITE_P(Every, OutputConformance, ::testing::ValuesIn(output_cases()),
                         [](const auto& param_info) { return param_info.param.name; });

// A connector added to the component list without a harness fails here.
TEST(Conformance, EveryComponentHasAHarness) {
  std::set<std::string> inputs, outputs;
  for (const auto& c : input_cases()) inputs.insert(c.name);
  for (const auto& c : output_cases()) outputs.insert(c.name);
  for (const auto& name : components::component_list().names(config::Kind::input))
    EXPECT_TRUE(inputs.count(name)) << "input '" << name << "' has no conformance harness (tests/conformance/harnesses.cc)";
  for (const auto& name : components::component_list().names(config::Kind::output))
    EXPECT_TRUE(outputs.count(name)) << "output '" << name << "' has no conformance harness (tests/conformance/harnesses.cc)";
}

// --- broken connectors: the suite must catch them ----------------------------

// Reads the embedded queue but acknowledges each message as soon as it is
// read (the classic auto-ack bug), and close() does not wake a waiting read.
class AutoAckInput final : public runtime::Input {
 public:
  explicit AutoAckInput(std::shared_ptr<connectors::queue::Store> store) : store_(std::move(store)) {}
  runtime::Task<core::Result<core::Batch>> read() override {
    core::Batch b = co_await store_->dequeue("conformance", {.max = 7});
    if (b.empty()) co_return core::fail(core::Errc::closed);
    for (auto& m : b.messages) {
      m.ack().resolve(core::AckStatus::delivered);
      m.set_ack(core::AckHandle{});
    }
    co_return b;
  }
  void close() override {}  // forgets store_->close_readers()

 private:
  std::shared_ptr<connectors::queue::Store> store_;
};

// Confirms every message but writes only every other one to its file.
class LossyFileOutput final : public runtime::Output {
 public:
  explicit LossyFileOutput(std::string path) : path_(std::move(path)) {}
  runtime::Task<runtime::BatchOutcome> write(core::Batch& batch) override {
    std::FILE* f = std::fopen(path_.c_str(), "a");
    for (const auto& m : batch.messages)
      if (f && (n_++ % 2 == 0)) std::fprintf(f, "%s\n", m.payload().c_str());
    if (f) std::fclose(f);
    co_return runtime::BatchOutcome{};
  }

 private:
  std::string path_;
  size_t n_ = 0;
};

config::Registry with_broken_connectors() {
  config::Registry r = components::component_list();
  r.add({.name = "auto_ack_queue",
         .kind = config::Kind::input,
         .summary = "broken on purpose",
         .make_input = [](const config::Values&, runtime::BuildContext& ctx) -> std::unique_ptr<runtime::Input> {
           return std::make_unique<AutoAckInput>(connectors::shared_queue_store(ctx));
         }});
  r.add({.name = "lossy_file",
         .kind = config::Kind::output,
         .summary = "broken on purpose",
         .fields = {{.name = "path", .required = true}},
         .make_output = [](const config::Values& v, runtime::BuildContext&) -> std::unique_ptr<runtime::Output> {
           return std::make_unique<LossyFileOutput>(v.str("path"));
         }});
  return r;
}

bool mentions(const Violations& v, const std::string& text) {
  for (const auto& s : v)
    if (s.find(text) != std::string::npos) return true;
  return false;
}

TEST(Conformance, CatchesAnInputThatAcksOnRead) {
  const auto registry = with_broken_connectors();
  const InputCase queue = input_cases()[3];
  ASSERT_EQ(queue.name, "queue");
  // The queue's harness, pointed at the broken input.
  struct Broken final : InputHarness {
    std::unique_ptr<InputHarness> real;
    std::string block(Env& env, const std::vector<std::string>& p) override {
      real->block(env, p);
      return "auto_ack_queue: {}";
    }
    void produce(Env& env, const std::vector<std::string>& p) override { real->produce(env, p); }
    bool acknowledges() const override { return true; }
    std::vector<std::string> redeliverable(Env& env) override { return real->redeliverable(env); }
    std::vector<std::string> dead(Env& env) override { return real->dead(env); }
    size_t acknowledged(Env& env) override { return real->acknowledged(env); }
  };
  auto make = [&queue]() -> std::unique_ptr<InputHarness> {
    auto b = std::make_unique<Broken>();
    b->real = queue.make();
    return b;
  };
  const auto v = check_input(make, registry);
  EXPECT_TRUE(mentions(v, "errored: the source would deliver again nothing")) << joined(v);
  EXPECT_TRUE(mentions(v, "rejected: the source dead-lettered nothing")) << joined(v);
  EXPECT_TRUE(mentions(v, "did not end within 1 s of close()")) << joined(v);
}

TEST(Conformance, CatchesAnOutputThatConfirmsWhatItDidNotWrite) {
  const auto registry = with_broken_connectors();
  struct Lossy final : OutputHarness {
    std::string path;
    std::string block(Env& env) override {
      path = (env.dir() / "lossy.jsonl").string();
      return fmt::format("lossy_file: {{path: {}}}", path);
    }
    std::string payload(const std::string& id, Kind) override { return fmt::format(R"({{"id":"{}"}})", id); }
    std::vector<std::string> received(Env&) override {
      std::vector<std::string> out;
      std::ifstream in(path);
      for (std::string line; std::getline(in, line);) out.push_back(line.substr(7, line.size() - 9));
      return out;
    }
    std::string unreachable_block(Env&) override { return "lossy_file: {path: /nonexistent/dir/x}"; }
  };
  const auto v = check_output([] { return std::make_unique<Lossy>(); }, registry);
  EXPECT_TRUE(mentions(v, "ok: the peer holds")) << joined(v);
  EXPECT_TRUE(mentions(v, "unreachable peer: message unreachable-1 ended 'ok' instead of 'retry'")) << joined(v);
}

}  // namespace
}  // namespace sluice::conformance
