#include "core/ack.h"

#include "core/clock.h"

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

AckHandle& AckHandle::operator=(const AckHandle& other) {
  if (this != &other) {
    release();
    state_ = other.state_;
    outcome_ = AckStatus::errored;
  }
  return *this;
}

AckHandle::AckHandle(AckHandle&& other) noexcept
    : state_(std::move(other.state_)), outcome_(other.outcome_) {}

AckHandle& AckHandle::operator=(AckHandle&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::move(other.state_);
    outcome_ = other.outcome_;
  }
  return *this;
}

void AckHandle::resolve(AckStatus s) {
  outcome_ = s;
  release();
}

void AckHandle::release() {
  if (!state_) return;
  state_->merge(outcome_);
  state_.reset();
  outcome_ = AckStatus::errored;
}

}  // namespace sluice::core
