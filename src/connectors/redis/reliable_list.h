#pragma once
// A reliable consumer of one Redis list, for the redis_list and sidekiq
// inputs. Each item is moved with BLMOVE (then LMOVE for the rest of a
// batch, pipelined) into this consumer's processing list,
// <key>:processing:<consumer>, so an item in flight is in Redis, not only in
// sluice's memory; the input settles it later with commands built here
// (remove it, or move it elsewhere atomically).
//
// At start the consumer puts back what its processing list still holds (a
// crash's in-flight items). Every `heartbeat` it scores itself in
// <key>:consumers by Redis's own clock (hosts' clocks do not matter) and,
// in the same script, returns the items of any consumer silent past
// `reap_after`: one that is gone for good does not keep its items.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "config/spec.h"
#include "core/clock.h"
#include "core/error.h"
#include "redis/client.h"
#include "runtime/task.h"

namespace sluice::config {
class Values;
}
namespace sluice::metrics {
class Counter;
}
namespace sluice::runtime {
class BuildContext;
}

namespace sluice::connectors {

// The host's name: stable across restarts, so a restarted consumer finds
// its own processing list.
std::string default_consumer();

// A blocking command's timeout as Redis takes it: seconds, with decimals.
std::string blocking_timeout(core::Nanos d);

// Runs settling commands, trying again while Redis is away: an
// acknowledgement given up on is an item delivered twice (or, popped, lost),
// so Redis is waited for (two minutes; a few tries once `closing`).
runtime::Task<void> settle_patiently(redis::Client& client, std::vector<redis::Command> commands,
                                     const std::atomic<bool>& closing, const core::Clock& clock,
                                     const std::string& what);

class ReliableList {
 public:
  // A component's fields for it (consumer, wait_time, batch_size, heartbeat,
  // reap_after) after its own; `item` names what the list holds ("item", "job").
  static std::vector<config::Field> with_fields(std::vector<config::Field> own, const std::string& item);
  // Refuses a reap_after under three heartbeats.
  static void validate(const config::Values& v);
  struct Options {
    std::string key;
    std::string consumer;
    core::Nanos wait, heartbeat, reap_after;
    size_t batch_size = 100;
    std::string metric_prefix;  // sluice_redis_list, sluice_sidekiq: <prefix>_recovered_total, ...
    std::string what;           // for the log: "redis_list jobs", "sidekiq queue:default"
  };
  ReliableList(std::shared_ptr<redis::Client> client, Options o, runtime::BuildContext& ctx);
  // Options from with_fields()'s fields.
  static Options options(const config::Values& v, std::string key, std::string metric_prefix, std::string what);
  ~ReliableList();

  // Recovers this consumer's processing list, then starts the heartbeat.
  runtime::Task<void> start();
  // Up to batch_size items, waiting at most `wait` for the first: empty
  // when none came. An error is the take's (the pipeline pauses and reads
  // again); a refusal by Redis says what it answered.
  runtime::Task<core::Result<std::vector<std::string>>> take();
  // Ends the heartbeat (after the input's last acks) and waits for it.
  runtime::Task<void> stop();

  // Settling commands: `item` leaves the processing list...
  void remove(std::vector<redis::Command>& commands, std::string item) const;
  // ...or goes elsewhere with `pushes` (LPUSH, ZADD), atomically with its
  // removal. Run them with settle_patiently: given up, the items stay in
  // the processing list and come back at the next start.
  void move(std::vector<redis::Command>& commands, std::string item, std::vector<redis::Command> pushes) const;
  const std::string& key() const { return o_.key; }
  redis::Client& client() { return *client_; }

 private:
  runtime::Task<void> recover();
  runtime::Task<void> heartbeat();

  std::shared_ptr<redis::Client> client_;
  Options o_;
  std::string processing_;
  const core::Clock& clock_;
  std::atomic<bool> stopping_{false}, heartbeat_running_{false};
  // The heartbeat frame's own: a list destroyed without stop() (a failed
  // start) leaves it set, and the loop ends untouched.
  std::shared_ptr<std::atomic<bool>> gone_ = std::make_shared<std::atomic<bool>>(false);
  metrics::Counter *recovered_, *reaped_;
};

}  // namespace sluice::connectors
