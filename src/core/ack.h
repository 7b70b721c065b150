#pragma once
// Acknowledgement of a message back to its source, as RAII.
//
// A source creates one AckState per unit it can acknowledge (one SQS message,
// one queue row, or a whole generated batch) and gives every message an
// AckHandle to it. Each copy of a handle (fan-out, dead-letter copies) is a
// separate holder with its own outcome. When the last holder is gone the
// state reports the merged outcome once: rejected > errored > delivered.
//
// A holder that is dropped without resolve() counts as errored: a message
// lost to a crash in our own code or cut off by shutdown is redelivered, never
// silently acknowledged. Filtering a message out is resolve(delivered).
//
// Threads: handles may be copied, resolved and dropped on any thread; the
// source callback runs on the thread that drops the last holder.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

namespace sluice::core {

enum class AckStatus : uint8_t { delivered = 0, errored = 1, rejected = 2 };

const char* to_string(AckStatus s);

// Sees every AckState finish; the runtime uses it to count what is still in
// flight per pipeline and to observe end-to-end latency.
class AckObserver {
 public:
  virtual ~AckObserver() = default;
  virtual void on_created(uint64_t messages) = 0;
  // `messages` is how many messages shared the finished state.
  virtual void on_finished(AckStatus status, int64_t created_ns, uint64_t messages) = 0;
};

class AckState {
 public:
  using Callback = std::move_only_function<void(AckStatus)>;

  explicit AckState(Callback on_done = {});
  ~AckState();
  AckState(const AckState&) = delete;
  AckState& operator=(const AckState&) = delete;

  void merge(AckStatus s);
  AckStatus status() const { return static_cast<AckStatus>(status_.load(std::memory_order_acquire)); }
  // Attaches the pipeline's observer; a state has at most one. `messages`
  // is how many messages share this state (a batch-wide ack: the batch size).
  void observe(std::shared_ptr<AckObserver> observer, uint64_t messages = 1);
  bool observed() const { return observer_ != nullptr; }

  // End-to-end acks past the embedded queue (http_server's `ack: delivered`).
  // A state that follows delivery is not finished by the queue output's
  // write: the queue keeps a holder until a downstream pipeline delivers the
  // row (or dead-letters it), and sets `*durable` once the row is committed,
  // so a source that stops waiting can still tell "stored" from "lost".
  void follow_delivery(std::shared_ptr<std::atomic<bool>> durable) { durable_ = std::move(durable); }
  bool follows_delivery() const { return durable_ != nullptr; }
  void mark_durable() const {
    if (durable_) durable_->store(true, std::memory_order_release);
  }

 private:
  std::atomic<uint8_t> status_{0};
  int64_t created_ns_;
  uint64_t messages_ = 1;
  Callback on_done_;
  std::shared_ptr<AckObserver> observer_;
  std::shared_ptr<std::atomic<bool>> durable_;
};

class AckHandle {
 public:
  AckHandle() = default;
  explicit AckHandle(std::shared_ptr<AckState> state) : state_(std::move(state)) {}
  static AckHandle make(AckState::Callback on_done = {}) {
    return AckHandle(std::make_shared<AckState>(std::move(on_done)));
  }

  // A copy is a new holder whose outcome is still open.
  AckHandle(const AckHandle& other) : state_(other.state_) {}
  AckHandle& operator=(const AckHandle& other);
  AckHandle(AckHandle&& other) noexcept;
  AckHandle& operator=(AckHandle&& other) noexcept;
  ~AckHandle() { release(); }

  // Records this holder's outcome and lets go of the state.
  void resolve(AckStatus s);
  explicit operator bool() const { return state_ != nullptr; }
  AckState* state() const { return state_.get(); }

 private:
  void release();
  std::shared_ptr<AckState> state_;
  AckStatus outcome_ = AckStatus::errored;
};

}  // namespace sluice::core
