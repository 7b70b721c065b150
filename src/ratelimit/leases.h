#pragma once
// Tokens leased in blocks from a bucket shared by a fleet (GCRA on a
// server, e.g. Redis): each block is a run of slots, the times at which its
// tokens conform, one `interval` apart. A process takes its tokens from its
// blocks with no round trip, and asks the server for another block only
// when they run short, so one round trip serves a whole block.
//
// A token is used at its slot or later, never earlier, so the fleet as a
// whole keeps the GCRA limit. A token whose slot is older than `tolerance`
// (the burst) has expired: used now it would add to a burst that others'
// tokens already make, so it is dropped and counted.
//
// Threads: not thread-safe; the backend holds a lock.

#include <cstdint>
#include <deque>
#include <optional>

namespace sluice::ratelimit {

class Leases {
 public:
  Leases(double interval_ns, double tolerance_ns) : interval_(interval_ns), tolerance_(tolerance_ns) {}

  // A block of `tokens` whose first token conforms at `first_slot_ns`.
  void add(int64_t first_slot_ns, double tokens);
  // Takes `cost` tokens at `now_ns`: the time at which they may be used
  // (the slot of the last), or nullopt, taking nothing, when the unexpired
  // tokens are fewer than `cost`.
  std::optional<int64_t> take(double cost, int64_t now_ns);
  // Unexpired tokens at `now_ns`.
  double available(int64_t now_ns);
  double expired() const { return expired_; }

 private:
  struct Block {
    double slot;  // of its next token
    double tokens;
  };
  void expire(int64_t now_ns);

  double interval_, tolerance_;
  std::deque<Block> blocks_;
  double expired_ = 0;
};

}  // namespace sluice::ratelimit
