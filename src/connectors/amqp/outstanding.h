#pragma once
// The delivery tags of one channel that the input holds and has not settled
// yet, oldest first. The broker numbers a channel's deliveries 1, 2, 3...,
// so an ordered deque finds a tag by binary search without a node per tag,
// and settled tags leave from the front: the run that leaves together is
// what one multiple-ack (basic.ack multiple=true up to its last tag) covers.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

namespace sluice::connectors::amqp_input {

class Outstanding {
 public:
  // A new delivery; tags rise on a channel.
  void add(uint64_t tag) {
    entries_.push_back({tag, false});
    ++open_;
  }

  // Marks `tag` settled; false if it is not held (never delivered, already
  // settled, or cleared by a reconnect).
  bool settle(uint64_t tag) {
    if (entries_.empty() || tag < entries_.front().tag) return false;
    // Every delivery on the channel comes here, so the tags held are usually
    // one run without gaps: the tag's place is its distance from the front.
    auto it = entries_.begin();
    if (const uint64_t at = tag - entries_.front().tag; at < entries_.size() && entries_[at].tag == tag)
      it += static_cast<std::ptrdiff_t>(at);
    else
      it = std::lower_bound(entries_.begin(), entries_.end(), tag, [](const Entry& e, uint64_t t) { return e.tag < t; });
    if (it == entries_.end() || it->tag != tag || it->settled) return false;
    it->settled = true;
    --open_;
    return true;
  }

  // Drops the settled tags at the front and returns the last one dropped:
  // every tag up to it is settled, none after it is held unsettled before it.
  std::optional<uint64_t> pop_settled_front() {
    std::optional<uint64_t> last;
    while (!entries_.empty() && entries_.front().settled) {
      last = entries_.front().tag;
      entries_.pop_front();
    }
    return last;
  }

  size_t open() const { return open_; }
  void clear() {
    entries_.clear();
    open_ = 0;
  }

 private:
  struct Entry {
    uint64_t tag;
    bool settled;
  };
  std::deque<Entry> entries_;
  size_t open_ = 0;
};

}  // namespace sluice::connectors::amqp_input
