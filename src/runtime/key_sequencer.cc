#include "runtime/key_sequencer.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <deque>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace sluice::runtime {

namespace asio = boost::asio;

struct KeySequencer::State {
  State(asio::io_context& io, std::string meta) : key_meta(std::move(meta)), wake(io, 1) {}

  // A message of `key` was acknowledged: release the next, or on errored
  // hand back every waiting one (their acks resolve errored as they drop).
  void finished(const std::string& key, core::AckStatus status) {
    std::deque<core::Message> handed_back;
    {
      std::lock_guard lock(mu);
      auto it = in_flight.find(key);
      if (it == in_flight.end()) return;
      if (status == core::AckStatus::errored || it->second.empty()) {
        handed_back = std::move(it->second);
        in_flight.erase(it);
      } else {
        ready.push_back(std::move(it->second.front()));
        it->second.pop_front();
      }
    }
    if (handed_back.empty()) wake.try_send(boost::system::error_code{});
  }

  const std::string key_meta;
  mutable std::mutex mu;
  // A key is here while a message of it is in the pipeline; its messages
  // that wait for that one, in order.
  std::unordered_map<std::string, std::deque<core::Message>> in_flight;
  std::vector<core::Message> ready;
  bool closed = false;
  asio::experimental::concurrent_channel<void(boost::system::error_code)> wake;
};

KeySequencer::KeySequencer(asio::io_context& io, std::string key_meta)
    : state_(std::make_shared<State>(io, std::move(key_meta))) {}

KeySequencer::~KeySequencer() {
  close();
  // Waiting messages drop with the state: errored, so the source has them again.
}

core::Batch KeySequencer::admit(core::Batch batch) {
  core::Batch now;
  std::weak_ptr<State> weak = state_;
  for (auto& m : batch.messages) {
    const std::string* found = m.meta().find(state_->key_meta);
    if (!found) {
      now.messages.push_back(std::move(m));
      continue;
    }
    std::string key = *found;
    // The message's own ack resolves first; then the sequencer hears of it.
    m.set_ack(core::AckHandle::make([weak, key, inner = std::move(m.ack())](core::AckStatus s) mutable {
      inner.resolve(s);
      if (auto state = weak.lock()) state->finished(key, s);
    }));
    std::lock_guard lock(state_->mu);
    auto [it, first] = state_->in_flight.try_emplace(std::move(key));
    if (first) now.messages.push_back(std::move(m));
    else it->second.push_back(std::move(m));
  }
  return now;
}

Task<core::Result<core::Batch>> KeySequencer::released() {
  auto state = state_;  // the wait may outlive the sequencer (closed, then destroyed)
  for (;;) {
    {
      std::lock_guard lock(state->mu);
      if (state->closed) co_return core::fail(core::Errc::closed);
      if (!state->ready.empty()) {
        core::Batch b;
        b.messages = std::move(state->ready);
        state->ready.clear();
        co_return b;
      }
    }
    co_await state->wake.async_receive(asio::as_tuple(asio::use_awaitable));
  }
}

void KeySequencer::close() {
  {
    std::lock_guard lock(state_->mu);
    state_->closed = true;
  }
  state_->wake.try_send(boost::system::error_code{});
}

size_t KeySequencer::waiting() const {
  std::lock_guard lock(state_->mu);
  size_t n = 0;
  for (const auto& [key, held] : state_->in_flight) n += held.size();
  return n + state_->ready.size();
}

}  // namespace sluice::runtime
