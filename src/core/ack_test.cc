#include "core/ack.h"

#include <gtest/gtest.h>

#include <optional>
#include <thread>
#include <vector>

namespace sluice::core {
namespace {

struct Recorder {
  std::optional<AckStatus> status;
  int calls = 0;
  AckHandle handle() {
    return AckHandle::make([this](AckStatus s) {
      status = s;
      ++calls;
    });
  }
};

TEST(Ack, LastHolderReportsOnce) {
  Recorder r;
  {
    AckHandle a = r.handle();
    AckHandle b = a;
    a.resolve(AckStatus::delivered);
    EXPECT_EQ(r.calls, 0);
    b.resolve(AckStatus::delivered);
  }
  EXPECT_EQ(r.calls, 1);
  EXPECT_EQ(r.status, AckStatus::delivered);
}

TEST(Ack, DroppedWithoutResolveCountsAsErrored) {
  Recorder r;
  { AckHandle a = r.handle(); }
  EXPECT_EQ(r.status, AckStatus::errored);
}

TEST(Ack, MergePrefersRejectedOverErroredOverDelivered) {
  const AckStatus all[] = {AckStatus::delivered, AckStatus::errored, AckStatus::rejected};
  for (AckStatus x : all) {
    for (AckStatus y : all) {
      Recorder r;
      {
        AckHandle a = r.handle();
        AckHandle b = a;
        a.resolve(x);
        b.resolve(y);
      }
      EXPECT_EQ(r.status, std::max(x, y)) << to_string(x) << " + " << to_string(y);
    }
  }
}

TEST(Ack, MoveKeepsOutcomeAndCopyStartsOpen) {
  Recorder r;
  {
    AckHandle a = r.handle();
    AckHandle copy = a;  // open holder: errored unless resolved
    copy.resolve(AckStatus::delivered);
    AckHandle moved = std::move(a);
    moved.resolve(AckStatus::delivered);
  }
  EXPECT_EQ(r.status, AckStatus::delivered);
}

TEST(Ack, ConcurrentHoldersReportExactlyOnce) {
  std::atomic<int> calls{0};
  std::atomic<int> rejected{0};
  for (int round = 0; round < 200; ++round) {
    AckHandle root = AckHandle::make([&](AckStatus s) {
      ++calls;
      if (s == AckStatus::rejected) ++rejected;
    });
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([h = root, t]() mutable {
        h.resolve(t == 3 ? AckStatus::rejected : AckStatus::delivered);
      });
    }
    root.resolve(AckStatus::delivered);
    for (auto& th : threads) th.join();
  }
  EXPECT_EQ(calls.load(), 200);
  EXPECT_EQ(rejected.load(), 200);
}

struct CountingObserver : AckObserver {
  int created = 0, finished = 0;
  void on_created(uint64_t n) override { created += static_cast<int>(n); }
  void on_finished(AckStatus, int64_t, uint64_t n) override { finished += static_cast<int>(n); }
};

// The source's callback may free whatever owns the last handle (the HTTP
// input's request frame does): letting go must not touch the handle after
// the callback ran. ASan reports the use after free if it does.
TEST(Ack, CallbackMayFreeTheOwnerOfTheLastHandle) {
  struct Owner {
    AckHandle handle;
  };
  for (int how = 0; how < 4; ++how) {
    auto* owner = new Owner;
    bool freed = false;
    owner->handle = AckHandle::make([&owner, &freed](AckStatus) {
      delete owner;
      freed = true;
    });
    switch (how) {
      case 0: owner->handle = AckHandle{}; break;  // move-assigned over
      case 1: owner->handle.resolve(AckStatus::delivered); break;
      case 2: {
        const AckHandle empty;
        owner->handle = empty;  // copy-assigned over
        break;
      }
      case 3: owner->handle = AckHandle::make(); break;
    }
    EXPECT_TRUE(freed) << "case " << how;
  }
}

TEST(Ack, ObserverSeesCreationAndFinish) {
  auto obs = std::make_shared<CountingObserver>();
  {
    AckHandle a = AckHandle::make();
    a.state()->observe(obs, 3);
    a.state()->observe(obs, 3);  // attaching twice is ignored
    EXPECT_EQ(obs->created, 3);
    EXPECT_EQ(obs->finished, 0);
  }
  EXPECT_EQ(obs->finished, 3);
}

}  // namespace
}  // namespace sluice::core
