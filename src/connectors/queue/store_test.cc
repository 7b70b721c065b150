#include "connectors/queue/store.h"

#include <gtest/gtest.h>

#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <future>
#include <thread>

#include "testing/run_awaitable.h"

namespace sluice::connectors::queue {
namespace {

using testing::run_awaitable;
namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-store-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  core::Batch batch_of(int n, const std::string& prefix = "m") {
    core::Batch b;
    for (int i = 0; i < n; ++i) b.messages.emplace_back(prefix + std::to_string(i));
    return b;
  }
  void enqueue(Store& s, const std::string& q, const core::Batch& b) {
    auto r = run_awaitable(io_, s.enqueue(q, b));
    ASSERT_TRUE(r) << r.error().to_string();
  }
  core::Batch dequeue(Store& s, const std::string& q, DequeueOptions o = {}) {
    return run_awaitable(io_, s.dequeue(q, o));
  }
  // Acks are applied by the store's thread; wait until depth settles.
  void wait_depth(Store& s, const std::string& q, int64_t want) {
    for (int i = 0; i < 200 && s.depth(q) != want; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(s.depth(q), want) << q;
  }

  fs::path dir_;
  boost::asio::io_context io_;
};

TEST_F(StoreTest, EnqueuedMessagesComeBackInOrderAndAckDeletesThem) {
  Store s(dir_.string());
  enqueue(s, "q", batch_of(250));
  EXPECT_EQ(s.depth("q"), 250);
  std::vector<std::string> got;
  while (got.size() < 250) {
    auto b = dequeue(s, "q", {.max = 100});
    ASSERT_FALSE(b.empty());
    ASSERT_LE(b.size(), 100u);
    for (auto& m : b.messages) got.push_back(m.payload());
    b.resolve_all(core::AckStatus::delivered);
  }
  for (int i = 0; i < 250; ++i) ASSERT_EQ(got[i], "m" + std::to_string(i));
  wait_depth(s, "q", 0);
}

TEST_F(StoreTest, UnackedMessagesSurviveARestartAndAckedOnesDoNot) {
  core::Batch leased;  // outlives the store, as leases do when the process dies
  {
    Store s(dir_.string());
    enqueue(s, "q", batch_of(10));
    auto b = dequeue(s, "q", {.max = 4});
    ASSERT_EQ(b.size(), 4u);
    b.resolve_all(core::AckStatus::delivered);
    wait_depth(s, "q", 6);
    leased = dequeue(s, "q", {.max = 3});  // leased, never acked: "crash"
    ASSERT_EQ(leased.size(), 3u);
  }
  Store s(dir_.string());
  EXPECT_EQ(s.depth("q"), 6);
  auto b = dequeue(s, "q", {.max = 100});
  ASSERT_EQ(b.size(), 6u);
  EXPECT_EQ(b.messages.front().payload(), "m4");
  EXPECT_EQ(*b.messages.front().meta().find("delivery_count"), "1");  // a crash is not the message's fault
  leased.messages.clear();  // acks to a closed store are ignored
}

TEST_F(StoreTest, NackRedeliversThenMovesToDeadAfterMaxDeliveries) {
  Store s(dir_.string());
  enqueue(s, "q", batch_of(1));
  const DequeueOptions o{.max = 10, .max_deliveries = 3};
  for (int delivery = 1; delivery <= 3; ++delivery) {
    auto b = dequeue(s, "q", o);
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(*b.messages[0].meta().find("delivery_count"), std::to_string(delivery));
    b.resolve_all(core::AckStatus::errored);  // the next dequeue waits for the redelivery
  }
  wait_depth(s, "q", 0);
  wait_depth(s, "q.dead", 1);
  auto dead = dequeue(s, "q.dead");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead.messages[0].payload(), "m0");
}

TEST_F(StoreTest, RejectedGoesStraightToDead) {
  Store s(dir_.string());
  enqueue(s, "q", batch_of(2));
  auto b = dequeue(s, "q");
  ASSERT_EQ(b.size(), 2u);
  b.messages[0].ack().resolve(core::AckStatus::rejected);
  b.messages[1].ack().resolve(core::AckStatus::delivered);
  wait_depth(s, "q", 0);
  wait_depth(s, "q.dead", 1);
}

// The dashboard's dead letters: read them, send some back to the queue
// they died in (delivered again, after what that queue's reader already
// loaded), delete the rest; the same after a restart.
TEST_F(StoreTest, DeadLettersCanBeReadRequeuedAndDeleted) {
  {
    Store s(dir_.string());
    enqueue(s, "q", batch_of(3));
    auto b = dequeue(s, "q");
    ASSERT_EQ(b.size(), 3u);
    for (auto& m : b.messages) m.ack().resolve(core::AckStatus::rejected);
    wait_depth(s, "q.dead", 3);
    auto rows = run_awaitable(io_, s.peek("q.dead", 0, 10));
    ASSERT_TRUE(rows) << rows.error().to_string();
    ASSERT_EQ(rows->size(), 3u);
    EXPECT_EQ((*rows)[0].payload, "m0");
    EXPECT_EQ((*rows)[0].failed_deliveries, 1);
    EXPECT_GT((*rows)[0].enqueued_at_ms, 0);
    EXPECT_EQ(run_awaitable(io_, s.peek("q.dead", (*rows)[0].id, 10))->size(), 2u) << "paged by id";

    auto moved = run_awaitable(io_, s.move("q.dead", {(*rows)[1].id, 999999}, "q"));
    ASSERT_TRUE(moved) << moved.error().to_string();
    EXPECT_EQ(*moved, 1) << "an id that is not there moves nothing";
    EXPECT_EQ(s.depth("q.dead"), 2);
    EXPECT_EQ(s.depth("q"), 1);
    auto again = dequeue(s, "q");
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again.messages[0].payload(), "m1");
    again.messages[0].ack().resolve(core::AckStatus::delivered);
    wait_depth(s, "q", 0);
  }
  Store s(dir_.string());
  EXPECT_EQ(s.depth("q.dead"), 2);
  auto removed = run_awaitable(io_, s.remove("q.dead", {}));
  ASSERT_TRUE(removed) << removed.error().to_string();
  EXPECT_EQ(*removed, 2);
  EXPECT_EQ(s.depth("q.dead"), 0);
  EXPECT_TRUE(run_awaitable(io_, s.peek("q.dead", 0, 10))->empty());
  bool listed = false;
  for (const auto& [name, depth] : s.queues()) listed = listed || (name == "q.dead" && depth == 0);
  EXPECT_TRUE(listed);
}

// SQLite reuses the highest rowid once that row is deleted; the store must
// not, or a row enqueued after the queue drained hides below what the
// reader has already loaded and is not delivered until a restart.
TEST_F(StoreTest, RowEnqueuedAfterTheQueueDrainedIsDelivered) {
  // Declared before the store, so it outlives the store's thread, which
  // may still be signalling it after the reader's run() returned.
  boost::asio::io_context reader_io;
  Store s(dir_.string());
  enqueue(s, "q", batch_of(1, "first"));
  dequeue(s, "q").resolve_all(core::AckStatus::delivered);
  wait_depth(s, "q", 0);
  enqueue(s, "q", batch_of(1, "second"));
  std::promise<core::Batch> got;
  std::thread reader([&] { got.set_value(run_awaitable(reader_io, s.dequeue("q", {}))); });
  auto future = got.get_future();
  const bool served = future.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  if (!served) s.close_readers("q");  // unblock the reader
  reader.join();
  ASSERT_TRUE(served) << "the second row was never delivered";
  auto b = future.get();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b.messages[0].payload(), "second0");
}

// An upstream ack that follows delivery finishes only when a downstream
// reader delivered the row (or it went to .dead), not when it was stored.
TEST_F(StoreTest, FollowedAckFinishesWhenTheRowIsDeliveredOrDead) {
  Store s(dir_.string());
  std::atomic<int> outcome[2] = {-1, -1};
  auto durable = std::make_shared<std::atomic<bool>>(false);
  core::Batch b = batch_of(2);
  for (int i = 0; i < 2; ++i) {
    b.messages[i].set_ack(core::AckHandle::make([&outcome, i](core::AckStatus st) { outcome[i] = int(st); }));
    b.messages[i].ack().state()->follow_delivery(durable);
  }
  enqueue(s, "q", b);
  b.resolve_all(core::AckStatus::delivered);  // the writer's holders: stored
  EXPECT_TRUE(durable->load());
  EXPECT_EQ(outcome[0], -1) << "stored is not delivered";
  EXPECT_EQ(outcome[1], -1);

  auto leased = dequeue(s, "q");
  ASSERT_EQ(leased.size(), 2u);
  leased.messages[0].ack().resolve(core::AckStatus::errored);  // a retry: still not finished
  leased.messages[1].ack().resolve(core::AckStatus::rejected);
  for (int i = 0; i < 200 && outcome[1] == -1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(outcome[1], int(core::AckStatus::rejected));
  EXPECT_EQ(outcome[0], -1);

  auto again = dequeue(s, "q");
  ASSERT_EQ(again.size(), 1u);
  again.messages[0].ack().resolve(core::AckStatus::delivered);
  for (int i = 0; i < 200 && outcome[0] == -1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(outcome[0], int(core::AckStatus::delivered));
}

TEST_F(StoreTest, ExpiredLeaseIsDeliveredAgain) {
  // An hour's lease on a clock the test moves: nothing comes back until the
  // hour has passed, then the message does, at once.
  core::ManualClock clock;
  boost::asio::io_context waiting_io;  // outlives the store: its thread posts the wake-up here
  Store s(dir_.string(), clock);
  enqueue(s, "q", batch_of(1));
  auto first = dequeue(s, "q", {.visibility_timeout = std::chrono::hours(1)});
  ASSERT_EQ(first.size(), 1u);
  auto again = std::async(std::launch::async, [&s, &waiting_io] { return run_awaitable(waiting_io, s.dequeue("q", {})); });
  EXPECT_EQ(again.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "the lease ended before its hour";
  clock.advance(std::chrono::minutes(61));
  ASSERT_EQ(again.wait_for(std::chrono::seconds(5)), std::future_status::ready) << "the lease never expired";
  auto batch = again.get();
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch.messages[0].payload(), "m0");
  EXPECT_EQ(*batch.messages[0].meta().find("delivery_count"), "2");
}

TEST_F(StoreTest, MetadataRoundTrips) {
  Store s(dir_.string());
  core::Batch b;
  core::Message m("body");
  m.meta().set("sid", "SM123");
  m.meta().set("quote", "a\"b");
  b.messages.push_back(std::move(m));
  enqueue(s, "q", b);
  auto got = dequeue(s, "q");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(*got.messages[0].meta().find("sid"), "SM123");
  EXPECT_EQ(*got.messages[0].meta().find("quote"), "a\"b");
}

TEST_F(StoreTest, QueuesAreSeparate) {
  Store s(dir_.string());
  enqueue(s, "a", batch_of(3, "a"));
  enqueue(s, "b", batch_of(2, "b"));
  EXPECT_EQ(dequeue(s, "b").size(), 2u);
  EXPECT_EQ(dequeue(s, "a").size(), 3u);
}

TEST_F(StoreTest, SecondProcessOnTheSameDataDirIsRefused) {
  Store s(dir_.string());
  try {
    Store other(dir_.string());
    FAIL() << "a second store on the same data_dir must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another sluice process"), std::string::npos) << e.what();
  }
}

TEST_F(StoreTest, CloseReadersWakesAWaitingDequeue) {
  Store s(dir_.string());
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    s.close_readers("q");
  });
  auto b = dequeue(s, "q");  // nothing there: blocks until closed
  closer.join();
  EXPECT_TRUE(b.empty());
}

// A full disk: a commit that does not fit writes none of its rows (SQLite
// rolls the transaction back on SQLITE_FULL; nothing may run after that),
// the enqueue fails as storage_full, and once space returns enqueues work
// again. Needs root, for a tmpfs of its own.
TEST_F(StoreTest, FullDiskCommitsNothingOfAFailedBatchAndRecovers) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  fs::create_directories(dir_);
  if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=2m") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  struct Unmount {
    fs::path dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{dir_};
  const std::string data = (dir_ / "data").string();
  int64_t committed = 0;
  core::Error refused;
  {
    Store s(data);
    const std::string kilobyte(1024, 'x');
    for (int round = 0; round < 100; ++round) {
      core::Batch b;
      for (int i = 0; i < 200; ++i) b.messages.emplace_back(kilobyte + std::to_string(round * 1000 + i));
      auto r = run_awaitable(io_, s.enqueue("q", b));
      if (!r) {
        refused = r.error();
        break;
      }
      committed += 200;
    }
    ASSERT_TRUE(refused.code) << "2 MiB never filled";
    EXPECT_TRUE(refused.is(core::Errc::storage_full)) << refused.to_string();
    // A batch bigger than SQLite's page cache fails while its rows are
    // written, not at COMMIT: SQLite rolls back mid-batch, and the rows
    // after that must not be written one by one.
    core::Batch big;
    for (int i = 0; i < 3000; ++i) big.messages.emplace_back(kilobyte + "big" + std::to_string(i));
    auto r = run_awaitable(io_, s.enqueue("q", big));
    ASSERT_FALSE(r) << "3 MB fitted on a full 2 MiB disk";
    EXPECT_TRUE(r.error().is(core::Errc::storage_full)) << r.error().to_string();
    EXPECT_EQ(s.depth("q"), committed);
  }
  {
    Store s(data);  // what is on disk: whole batches only
    EXPECT_EQ(s.depth("q"), committed);
  }
  ASSERT_EQ(::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT, "size=16m"), 0) << std::strerror(errno);
  Store s(data);
  enqueue(s, "q", batch_of(200, "after"));
  EXPECT_EQ(s.depth("q"), committed + 200);
}

}  // namespace
}  // namespace sluice::connectors::queue
