// KeySequencer: one message of a key at a time, in read order; errored hands
// the rest of the key back; keys are independent; acks from many threads
// (also run under TSan).
#include "runtime/key_sequencer.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "async/spawn.h"

namespace sluice::runtime {
namespace {

using core::AckStatus;

class KeySequencerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    sequencer_.reset();
    work_.reset();
    thread_.join();
  }
  // Message `id` of `key` (empty: none), whose source ack is recorded.
  core::Message message(const std::string& id, const std::string& key) {
    core::Message m(id);
    if (!key.empty()) m.meta().set("group", key);
    m.set_ack(core::AckHandle::make([this, id](AckStatus s) {
      std::lock_guard lock(mu_);
      source_acks_.emplace_back(id, s);
    }));
    return m;
  }
  core::Batch batch(std::vector<std::pair<std::string, std::string>> messages) {
    core::Batch b;
    for (auto& [id, key] : messages) b.messages.push_back(message(id, key));
    return b;
  }
  static std::vector<std::string> ids(const core::Batch& b) {
    std::vector<std::string> out;
    for (const auto& m : b.messages) out.push_back(m.payload());
    return out;
  }
  // released(), on the io thread; empty if nothing comes within 200 ms.
  core::Batch released(std::chrono::milliseconds limit = std::chrono::milliseconds(200)) {
    auto promise = std::make_shared<std::promise<core::Batch>>();
    auto future = promise->get_future();
    async::spawn(io_, [this, promise]() -> Task<void> {
      auto b = co_await sequencer_->released();
      promise->set_value(b ? std::move(*b) : core::Batch{});
    });
    if (future.wait_for(limit) == std::future_status::ready) return future.get();
    sequencer_->close();  // ends the pending wait
    return {};
  }
  std::vector<std::pair<std::string, AckStatus>> source_acks() {
    std::lock_guard lock(mu_);
    return source_acks_;
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
  std::unique_ptr<KeySequencer> sequencer_ = std::make_unique<KeySequencer>(io_, "group");
  std::mutex mu_;
  std::vector<std::pair<std::string, AckStatus>> source_acks_;
};

TEST_F(KeySequencerTest, OneMessageOfAKeyAtATimeInReadOrder) {
  auto now = sequencer_->admit(batch({{"a1", "A"}, {"b1", "B"}, {"a2", "A"}, {"x", ""}, {"a3", "A"}, {"b2", "B"}}));
  EXPECT_EQ(ids(now), (std::vector<std::string>{"a1", "b1", "x"}));
  EXPECT_EQ(sequencer_->waiting(), 3u);
  now.messages[0].ack().resolve(AckStatus::delivered);  // a1
  now.messages.erase(now.messages.begin());
  auto a2 = released();  // held: dropping it would be an errored ack
  EXPECT_EQ(ids(a2), (std::vector<std::string>{"a2"}));
  // A later read of A waits behind a3.
  auto later = sequencer_->admit(batch({{"a4", "A"}}));
  EXPECT_TRUE(later.empty());
  EXPECT_TRUE(released().empty());  // nothing new until a2 is acked
}

TEST_F(KeySequencerTest, RejectedReleasesTheNextErroredHandsBackTheRest) {
  auto now = sequencer_->admit(batch({{"a1", "A"}, {"a2", "A"}, {"a3", "A"}, {"b1", "B"}, {"b2", "B"}, {"b3", "B"}}));
  ASSERT_EQ(ids(now), (std::vector<std::string>{"a1", "b1"}));
  now.messages[0].ack().resolve(AckStatus::rejected);  // a1 to the dead letter: a2 goes
  now.messages[1].ack().resolve(AckStatus::errored);   // b1 to retry: b2 and b3 come back with it
  now.messages.clear();
  auto a2 = released();
  EXPECT_EQ(ids(a2), (std::vector<std::string>{"a2"}));
  const auto acks = source_acks();
  std::map<std::string, AckStatus> by_id(acks.begin(), acks.end());
  EXPECT_EQ(by_id.at("a1"), AckStatus::rejected);
  EXPECT_EQ(by_id.at("b1"), AckStatus::errored);
  EXPECT_EQ(by_id.at("b2"), AckStatus::errored);
  EXPECT_EQ(by_id.at("b3"), AckStatus::errored);
  EXPECT_EQ(by_id.count("a2"), 0u);
  // Key B is free again: its next read goes at once.
  EXPECT_EQ(ids(sequencer_->admit(batch({{"b2", "B"}}))), (std::vector<std::string>{"b2"}));
}

TEST_F(KeySequencerTest, WaitingMessagesGoBackErroredWhenTheSequencerGoes) {
  auto now = sequencer_->admit(batch({{"a1", "A"}, {"a2", "A"}}));
  sequencer_.reset();
  now.messages[0].ack().resolve(AckStatus::delivered);  // after the sequencer: straight to the source
  now.messages.clear();
  const auto acks = source_acks();
  std::map<std::string, AckStatus> by_id(acks.begin(), acks.end());
  EXPECT_EQ(by_id.at("a1"), AckStatus::delivered);
  EXPECT_EQ(by_id.at("a2"), AckStatus::errored);
}

TEST_F(KeySequencerTest, ManyKeysAckedFromManyThreadsKeepEachKeysOrder) {
  constexpr int kKeys = 8, kPerKey = 200;
  core::Batch all;
  for (int i = 0; i < kPerKey; ++i)
    for (int k = 0; k < kKeys; ++k) all.messages.push_back(message(fmt::format("{}:{}", k, i), std::to_string(k)));
  std::vector<core::Message> in_flight = std::move(sequencer_->admit(std::move(all)).messages);
  std::map<int, int> next;  // key -> the index it must write next
  std::mutex order_mu;
  bool in_order = true;
  size_t written = 0;
  while (written < static_cast<size_t>(kKeys * kPerKey)) {
    ASSERT_FALSE(in_flight.empty()) << "stalled after " << written;
    std::vector<std::thread> threads;
    for (auto& m : in_flight) {
      int k = 0, i = 0;
      std::sscanf(m.payload().c_str(), "%d:%d", &k, &i);
      {
        std::lock_guard lock(order_mu);
        if (next[k] != i) in_order = false;
        next[k] = i + 1;
      }
      ++written;
      threads.emplace_back([m = std::move(m)]() mutable { m.ack().resolve(AckStatus::delivered); });
    }
    for (auto& t : threads) t.join();
    in_flight.clear();
    if (written < static_cast<size_t>(kKeys * kPerKey)) in_flight = std::move(released(std::chrono::seconds(5)).messages);
  }
  EXPECT_TRUE(in_order);
  EXPECT_EQ(source_acks().size(), static_cast<size_t>(kKeys * kPerKey));
  EXPECT_EQ(sequencer_->waiting(), 0u);
}

}  // namespace
}  // namespace sluice::runtime
