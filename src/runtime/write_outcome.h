#pragma once
// What an output's write did with each message: ok, retry (with the peer's
// hint and whether it was overload) or reject for good.

#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace sluice::runtime {

// What happened to one message of a write.
struct WriteOutcome {
  enum class Kind { ok, retry, reject };
  Kind kind = Kind::ok;
  std::string reason;
  core::Nanos retry_after{0};  // the peer's hint (Retry-After), 0 if none
  // The peer refused for overload (429, 503, a timeout, a full queue):
  // adaptive concurrency backs off.
  bool overloaded = false;

  static WriteOutcome ok() { return {}; }
  static WriteOutcome retry(std::string why, core::Nanos after = core::Nanos(0)) {
    return {Kind::retry, std::move(why), after};
  }
  static WriteOutcome overload(std::string why, core::Nanos after = core::Nanos(0)) {
    return {Kind::retry, std::move(why), after, true};
  }
  static WriteOutcome reject(std::string why) { return {Kind::reject, std::move(why), core::Nanos(0)}; }
};

// Outcomes of one write: one for the whole batch, or one per message.
class BatchOutcome {
 public:
  BatchOutcome() = default;
  static BatchOutcome all(WriteOutcome o) {
    BatchOutcome b;
    b.uniform_ = std::move(o);
    return b;
  }
  void set(size_t index, size_t batch_size, WriteOutcome o) {
    if (each_.empty()) each_.assign(batch_size, uniform_);
    each_[index] = std::move(o);
  }
  const WriteOutcome& at(size_t index) const { return each_.empty() ? uniform_ : each_[index]; }

 private:
  WriteOutcome uniform_;
  std::vector<WriteOutcome> each_;
};

}  // namespace sluice::runtime
