// AckBatcher: size and age bounds, grouping by status, drain, and acks
// resolved from many threads at once (also run under TSan).
#include "runtime/ack_batcher.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <future>
#include <set>
#include <thread>

#include "async/spawn.h"

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;
using Batcher = AckBatcher<int>;

// An io_context on its own thread, and everything the flush function saw.
class AckBatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    work_.reset();
    thread_.join();
  }
  Batcher::Flush recorder() {
    return [this](Batcher::Groups g) -> Task<void> {
      std::lock_guard lock(mu_);
      flushes_.push_back(std::move(g));
      cv_.notify_all();
      co_return;
    };
  }
  // Waits until `n` tokens were flushed in all (false after 5 s).
  bool wait_flushed(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return flushed() >= n; });
  }
  size_t flushed() const {
    size_t n = 0;
    for (const auto& g : flushes_) n += g.size();
    return n;
  }
  void spawn_run(Batcher& b) {
    async::spawn(io_, [&b] { return b.run(); });
  }
  void drain(Batcher& b) {
    std::promise<void> done;
    async::spawn(io_, [&b, &done]() -> Task<void> {
      co_await b.drain();
      done.set_value();
    });
    ASSERT_EQ(done.get_future().wait_for(5s), std::future_status::ready) << "drain() did not return";
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Batcher::Groups> flushes_;
};

TEST_F(AckBatcherTest, FlushesAtTheSizeBoundWithoutWaitingForTheAge) {
  Batcher b(io_, 10, 1h, recorder());
  spawn_run(b);
  for (int i = 0; i < 10; ++i) b.handle(i).resolve(core::AckStatus::delivered);
  ASSERT_TRUE(wait_flushed(10)) << "10 acks at max_size 10 were not flushed (age bound 1 h)";
  drain(b);
}

TEST_F(AckBatcherTest, FlushesAtTheAgeBound) {
  // 200 ms, not less: the three resolves must land in one window even when
  // a loaded machine (a sanitizer build beside the tests) stalls this thread.
  Batcher b(io_, 1000, 200ms, recorder());
  spawn_run(b);
  const auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) b.handle(i).resolve(core::AckStatus::delivered);
  ASSERT_TRUE(wait_flushed(3)) << "3 acks below max_size were never flushed";
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 150ms) << "flushed before the age bound";
  std::lock_guard lock(mu_);
  EXPECT_EQ(flushes_.size(), 1u) << "three acks within one age window take one flush";
  drain(b);
}

TEST_F(AckBatcherTest, GroupsTokensByFinalStatus) {
  Batcher b(io_, 6, 1h, recorder());
  spawn_run(b);
  b.handle(1).resolve(core::AckStatus::delivered);
  b.handle(2).resolve(core::AckStatus::errored);
  b.handle(3).resolve(core::AckStatus::rejected);
  { core::AckHandle dropped = b.handle(4); }  // dropped unresolved: errored
  {
    core::AckHandle fanout = b.handle(5);  // two holders: rejected wins
    core::AckHandle copy = fanout;
    fanout.resolve(core::AckStatus::delivered);
    copy.resolve(core::AckStatus::rejected);
  }
  b.handle(6).resolve(core::AckStatus::delivered);
  ASSERT_TRUE(wait_flushed(6));
  drain(b);
  std::lock_guard lock(mu_);
  ASSERT_EQ(flushes_.size(), 1u);
  EXPECT_EQ(flushes_[0].delivered, (std::vector<int>{1, 6}));
  EXPECT_EQ(flushes_[0].errored, (std::vector<int>{2, 4}));
  EXPECT_EQ(flushes_[0].rejected, (std::vector<int>{3, 5}));
}

TEST_F(AckBatcherTest, DrainFlushesWhatIsPendingAndEndsRun) {
  Batcher b(io_, 1000, 1h, recorder());
  spawn_run(b);
  for (int i = 0; i < 7; ++i) b.handle(i).resolve(core::AckStatus::delivered);
  drain(b);  // the age bound is an hour away: only drain can have flushed them
  std::lock_guard lock(mu_);
  EXPECT_EQ(flushed(), 7u);
}

TEST_F(AckBatcherTest, DrainWithoutRunFlushesItself) {
  Batcher b(io_, 1000, 1h, recorder());
  b.handle(1).resolve(core::AckStatus::errored);
  drain(b);
  std::lock_guard lock(mu_);
  ASSERT_EQ(flushed(), 1u);
  EXPECT_EQ(flushes_[0].errored, (std::vector<int>{1}));
}

TEST_F(AckBatcherTest, AcksAfterDrainStayPendingForTake) {
  Batcher b(io_, 1000, 1h, recorder());
  spawn_run(b);
  drain(b);
  b.handle(9).resolve(core::AckStatus::delivered);
  EXPECT_EQ(b.pending(), 1u);
  EXPECT_EQ(b.take().delivered, (std::vector<int>{9}));
}

TEST_F(AckBatcherTest, AcksFromManyThreadsAreEachFlushedOnce) {
  constexpr int kThreads = 8, kEach = 5000;
  Batcher b(io_, 100, 1ms, recorder());
  spawn_run(b);
  std::vector<std::vector<core::AckHandle>> handles(kThreads);
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i) handles[t].push_back(b.handle(t * kEach + i));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&handles, t] {
      for (auto& h : handles[t]) h.resolve(core::AckStatus::delivered);
    });
  for (auto& th : threads) th.join();
  drain(b);
  std::lock_guard lock(mu_);
  std::set<int> seen;
  size_t total = 0;
  for (const auto& g : flushes_) {
    total += g.size();
    seen.insert(g.delivered.begin(), g.delivered.end());
  }
  EXPECT_EQ(total, size_t{kThreads * kEach}) << "some ack was flushed twice or never";
  EXPECT_EQ(seen.size(), size_t{kThreads * kEach});
  EXPECT_GT(flushes_.size(), 1u) << "40,000 acks at max_size 100 must take many flushes";
}

TEST_F(AckBatcherTest, OutlivedCallbacksDoNothing) {
  core::AckHandle late;
  {
    Batcher b(io_, 10, 1h, recorder());
    late = b.handle(1);
  }
  late.resolve(core::AckStatus::delivered);  // the batcher is gone: no crash, no flush
  std::lock_guard lock(mu_);
  EXPECT_TRUE(flushes_.empty());
}

// The engine's forced stop: the io_context shuts down while run() waits
// for acks that will never come (before any is pending, or for the age bound
// after one). Its coroutine is destroyed then instead of leaking: the wake-up
// it waits on lives in state its own frame keeps alive.
class StoppingContext final : public boost::asio::io_context {
 public:
  void destroy_pending_work() { shutdown(); }
};

void expect_run_freed_at_shutdown(bool with_pending_ack) {
  auto sentinel = std::make_shared<int>(0);
  const std::weak_ptr<int> alive = sentinel;
  StoppingContext io;
  auto b = std::make_unique<Batcher>(io, 10, 1h, [](Batcher::Groups) -> Task<void> { co_return; });
  async::spawn(io, [&b, sentinel = std::move(sentinel)]() -> Task<void> {
    const auto keep = sentinel;  // in the coroutine's frame
    co_await b->run();
  });
  io.poll();
  if (with_pending_ack) b->handle(1).resolve(core::AckStatus::delivered);
  io.poll();
  ASSERT_FALSE(alive.expired()) << "run() should still be waiting";
  io.destroy_pending_work();
  EXPECT_TRUE(alive.expired()) << "the waiting run() coroutine outlived its io_context's shutdown";
  b.reset();
}

TEST(AckBatcherTeardown, AWaitingRunIsDestroyedWhenItsContextShutsDown) { expect_run_freed_at_shutdown(false); }

TEST(AckBatcherTeardown, ARunWaitingForTheAgeBoundIsDestroyedWhenItsContextShutsDown) {
  expect_run_freed_at_shutdown(true);
}

}  // namespace
}  // namespace sluice::runtime
