#include "core/ack.h"

#include "core/clock.h"

#include <utility>

namespace sluice::core {

const char* to_string(AckStatus s) {
  switch (s) {
    case AckStatus::delivered: return "delivered";
    case AckStatus::errored: return "errored";
    case AckStatus::rejected: return "rejected";
  }
  return "unknown";
}

AckState::AckState(Callback on_done)
    : created_ns_(SteadyClock::instance().now_ns()), on_done_(std::move(on_done)) {}

AckState::~AckState() {
  const AckStatus final_status = status();
  if (on_done_) on_done_(final_status);
  if (observer_) observer_->on_finished(final_status, created_ns_, messages_);
}

void AckState::merge(AckStatus s) {
  uint8_t current = status_.load(std::memory_order_relaxed);
  const auto wanted = static_cast<uint8_t>(s);
  while (current < wanted && !status_.compare_exchange_weak(current, wanted, std::memory_order_acq_rel)) {
  }
}

void AckState::observe(std::shared_ptr<AckObserver> observer, uint64_t messages) {
  if (observer_ || !observer) return;
  observer_ = std::move(observer);
  messages_ = messages;
  observer_->on_created(messages);
}

// Each operation leaves this handle in its final state before the old
// state is let go: letting go of the last holder runs the source's callback,
// and that callback may free the object that owns this handle (an HTTP
// request's coroutine frame, say). Nothing touches *this after that.

AckHandle& AckHandle::operator=(const AckHandle& other) {
  if (this != &other) {
    AckHandle old(std::move(*this));
    state_ = other.state_;
    outcome_ = AckStatus::errored;
  }  // `old` goes here
  return *this;
}

AckHandle::AckHandle(AckHandle&& other) noexcept
    : state_(std::move(other.state_)), outcome_(other.outcome_) {}

AckHandle& AckHandle::operator=(AckHandle&& other) noexcept {
  if (this != &other) {
    AckHandle old(std::move(*this));
    state_ = std::move(other.state_);
    outcome_ = other.outcome_;
  }  // `old` goes here
  return *this;
}

void AckHandle::resolve(AckStatus s) {
  outcome_ = s;
  release();
}

void AckHandle::release() {
  if (!state_) return;
  std::shared_ptr<AckState> state = std::move(state_);
  state->merge(std::exchange(outcome_, AckStatus::errored));
}  // `state` goes here

}  // namespace sluice::core
