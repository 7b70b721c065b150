// The redis_list input. mode: reliable (default) moves each item with
// BLMOVE (then LMOVE for the rest of a batch, pipelined) from the list into
// this consumer's processing list, <key>:processing:<consumer>, so an item
// in flight is in Redis, not only in sluice's memory:
//   delivered -> LREM from the processing list (batched, pipelined);
//   errored   -> back onto the list's far end, in one MULTI with the LREM;
//   rejected  -> onto the dead-letter list (<key>:dead), likewise;
// and at start a consumer moves what its processing list still holds (a
// crash's in-flight items) back to the list's near end, to be taken next.
// Each consumer heartbeats into <key>:consumers (a sorted set scored by
// Redis's own clock, so hosts' clocks do not matter); in the same script a
// consumer returns the items of any consumer whose heartbeat is older than
// `reap_after`: one that is gone for good does not keep its items.
// mode: pop takes items with BRPOP/RPOP: an item in flight when sluice dies
// is lost, as with Redpanda Connect's and Vector's Redis inputs.
#include <unistd.h>

#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include <atomic>

#include "async/spawn.h"
#include "config/config.h"
#include "connectors/redis/redis.h"
#include "connectors/redis/settings.h"
#include "core/message.h"
#include "logging/log.h"
#include "metrics/metrics.h"
#include "redis/client.h"
#include "redis/script.h"
#include "runtime/ack_batcher.h"
#include "runtime/component.h"
#include "runtime/sleep.h"

namespace sluice::connectors {
namespace {

namespace asio = boost::asio;

// The host's name: stable across restarts, so a restarted consumer finds
// its own processing list (two processes on one host sharing a list set
// `consumer` each).
std::string default_consumer() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return host;
}

// The heartbeat and the reaper, atomic so that two reapers never both move
// one item. KEYS: the list, the consumers set. ARGV: this consumer, the
// silence in ms after which a consumer is gone, the processing-list prefix,
// the most items to move in one call. Returns the items moved.
const char* const kHeartbeatAndReap = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[2], now, ARGV[1])
local moved, budget = 0, tonumber(ARGV[4])
for _, name in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))) do
  local processing = ARGV[3] .. name
  while moved < budget and redis.call('LMOVE', processing, KEYS[1], 'LEFT', 'RIGHT') do
    moved = moved + 1
  end
  if redis.call('LLEN', processing) == 0 then redis.call('ZREM', KEYS[2], name) end
end
return moved
)lua";

// Redis takes a blocking command's timeout in seconds, with decimals.
std::string seconds_text(core::Nanos d) { return fmt::format("{:.3f}", std::chrono::duration<double>(d).count()); }

class RedisListInput final : public runtime::Input {
 public:
  RedisListInput(const config::Values& v, runtime::BuildContext& ctx)
      : client_(redis_settings::client_for(v, ctx)),
        key_(v.str("key")),
        reliable_(v.str("mode") == "reliable"),
        consumer_(v.has("consumer") ? v.str("consumer") : default_consumer()),
        processing_(key_ + ":processing:" + consumer_),
        dead_key_(v.has("dead_letter_key") ? v.str("dead_letter_key") : key_ + ":dead"),
        wait_(v.duration("wait_time")),
        heartbeat_(v.duration("heartbeat")),
        reap_after_(v.duration("reap_after")),
        max_batch_(static_cast<size_t>(v.integer("batch_size"))),
        clock_(ctx.clock()),
        acks_(ctx.io(), 500, std::chrono::milliseconds(20), [this](Acks::Groups g) { return settle(std::move(g)); }) {
    const metrics::Labels l = {{"pipeline", ctx.pipeline()}, {"key", key_}};
    received_ = &ctx.metrics().counter("sluice_redis_list_received_total", "Items taken from the Redis list.", l);
    recovered_ = &ctx.metrics().counter("sluice_redis_list_recovered_total",
                                        "Items a restarted consumer found in its processing list and put back.", l);
    reaped_ = &ctx.metrics().counter("sluice_redis_list_reaped_total",
                                     "Items of consumers that stopped heartbeating, put back on the list.", l);
  }
  ~RedisListInput() override { *gone_ = true; }

  runtime::Task<void> start() override {
    if (reliable_) co_await recover();
    auto ex = co_await asio::this_coro::executor;
    async::spawn(ex, [this] { return acks_.run(); });
    if (reliable_) {
      heartbeat_running_ = true;
      async::spawn(ex, [this] { return heartbeat(); });
    }
  }

  runtime::Task<core::Result<core::Batch>> read() override {
    for (;;) {
      if (closed_) co_return core::fail(core::Errc::closed);
      // A blocking take waits at most wait_time: close() ends a read within it.
      redis::Command take = reliable_ ? redis::Command{"BLMOVE", key_, processing_, "RIGHT", "LEFT", seconds_text(wait_)}
                                      : redis::Command{"BRPOP", key_, seconds_text(wait_)};
      auto first = co_await client_->command(std::move(take), wait_);
      if (!first) {
        if (closed_) co_return core::fail(core::Errc::closed);
        co_return std::unexpected(first.error());  // logged; the pipeline retries after a pause
      }
      if (first->is_error()) co_return core::fail(core::Errc::io_error, "Redis refused the take: " + first->text);
      if (first->is_null()) continue;
      std::vector<std::string> items;
      items.push_back(reliable_ ? std::move(first->text) : std::move(first->elements.at(1).text));
      co_await take_more(items);
      received_->inc(items.size());
      co_return to_batch(std::move(items));
    }
  }

  void close() override { closed_ = true; }
  // The last acks go out, then the heartbeat ends; both are awaited, so
  // neither outlives the input.
  runtime::Task<void> drain() override {
    co_await acks_.drain();
    draining_ = true;
    while (heartbeat_running_) co_await runtime::sleep_for(clock_, std::chrono::milliseconds(10));
  }

 private:
  using Acks = runtime::AckBatcher<std::string>;

  // The rest of a batch, without waiting: LMOVE pipelined, or RPOP with a count.
  runtime::Task<void> take_more(std::vector<std::string>& items) {
    if (max_batch_ <= 1) co_return;
    const size_t more = max_batch_ - 1;
    std::vector<redis::Command> commands;
    if (reliable_)
      for (size_t i = 0; i < more; ++i) commands.push_back({"LMOVE", key_, processing_, "RIGHT", "LEFT"});
    else
      commands.push_back({"RPOP", key_, std::to_string(more)});
    auto replies = co_await client_->pipeline(std::move(commands));
    // A failure here loses nothing: reliable items are in the processing
    // list (recovered at the next start), and RPOP's answer never came.
    if (!replies) co_return;
    for (auto& r : *replies) {
      if (r.type == redis::Reply::Type::bulk) items.push_back(std::move(r.text));
      for (auto& e : r.elements) items.push_back(std::move(e.text));
    }
  }

  core::Batch to_batch(std::vector<std::string> items) {
    core::Batch b;
    for (auto& item : items) {
      core::Message m(item);
      m.meta().set("redis_key", key_);
      m.set_ack(acks_.handle(std::move(item)));
      b.messages.push_back(std::move(m));
    }
    return b;
  }

  // A restarted consumer's items in flight, back where they are taken next.
  runtime::Task<void> recover() {
    size_t moved = 0;
    for (;;) {
      // Newest first onto the list's taking end, so the oldest is taken first.
      std::vector<redis::Command> commands(100, redis::Command{"LMOVE", processing_, key_, "LEFT", "RIGHT"});
      auto replies = co_await client_->pipeline(std::move(commands));
      if (!replies) {
        logging::warn("redis_list {}: cannot recover {} ({}); its items come back at the next start", key_,
                      processing_, replies.error().to_string());
        break;
      }
      size_t got = 0;
      for (const auto& r : *replies) got += r.type == redis::Reply::Type::bulk;
      moved += got;
      if (got < replies->size()) break;
    }
    recovered_->inc(moved);
    if (moved > 0) logging::info("redis_list {}: {} item(s) left in flight by an earlier run put back", key_, moved);
  }

  // Every `heartbeat` until drained: one script call that heartbeats and
  // reaps. Redis away: the next beat tries again (a consumer silent past
  // reap_after may be reaped meanwhile: its items are then delivered twice,
  // never lost). `gone` is the frame's own: an input destroyed without
  // drain() (a failed start) leaves it set, and the loop ends untouched.
  runtime::Task<void> heartbeat() {
    const auto gone = gone_;
    const core::Clock& clock = clock_;
    const redis::Script script(kHeartbeatAndReap);
    for (;;) {
      std::vector<std::string> keys{key_, key_ + ":consumers"};  // named: GCC 12 and temporaries in co_await
      std::vector<std::string> args{consumer_, std::to_string(reap_after_ / std::chrono::milliseconds(1)),
                                    key_ + ":processing:", "1000"};
      auto moved = co_await script.run(*client_, std::move(keys), std::move(args));
      if (*gone) co_return;
      if (moved && moved->type == redis::Reply::Type::integer && moved->integer > 0) {
        reaped_->inc(static_cast<uint64_t>(moved->integer));
        logging::info("redis_list {}: {} item(s) of consumers silent for over {} ms put back", key_, moved->integer,
                      reap_after_ / std::chrono::milliseconds(1));
      } else if (!moved || moved->is_error()) {
        logging::limited(logging::Level::warn, "redis_list-heartbeat:" + key_,
                         fmt::format("redis_list {}: heartbeat failed ({})", key_,
                                     moved ? moved->text : moved.error().to_string()));
      }
      // In short steps, so that drain() is not kept waiting for a beat.
      for (core::Nanos slept{0}; slept < heartbeat_ && !draining_; slept += std::chrono::milliseconds(50))
        co_await runtime::sleep_for(clock, std::chrono::milliseconds(50));
      if (*gone) co_return;
      if (draining_) break;
    }
    heartbeat_running_ = false;
  }

  // One pipelined round for all of them: LREM for the delivered, and a
  // MULTI each (push elsewhere + LREM) for the others.
  runtime::Task<void> settle(Acks::Groups g) {
    std::vector<redis::Command> commands;
    if (reliable_) {
      for (auto& item : g.delivered) commands.push_back({"LREM", processing_, "1", std::move(item)});
    }
    auto move = [&](std::vector<std::string>& items, const std::string& to) {
      for (auto& item : items) {
        if (reliable_) commands.push_back({"MULTI"});
        commands.push_back({"LPUSH", to, item});
        if (reliable_) {
          commands.push_back({"LREM", processing_, "1", std::move(item)});
          commands.push_back({"EXEC"});
        }
      }
    };
    move(g.errored, key_);
    move(g.rejected, dead_key_);
    if (commands.empty()) co_return;
    // An acknowledgement given up on is an item delivered twice after the
    // next start, so a Redis that is away (restarting, loading, failing
    // over) is waited for: up to two minutes, a few tries once closing.
    const int64_t began = clock_.now_ns();
    for (int attempt = 0;; ++attempt) {
      std::vector<redis::Command> these = commands;
      auto r = co_await client_->pipeline(std::move(these));
      std::string why = r ? std::string() : r.error().to_string();
      if (r)
        for (const auto& reply : *r)
          if (reply.is_error()) why = "Redis answered " + reply.text;
      if (why.empty()) co_return;
      const bool patient = !closed_ && clock_.now_ns() - began < std::chrono::nanoseconds(std::chrono::minutes(2)).count();
      if (attempt + 1 >= 5 && !patient) break;
      logging::limited(logging::Level::warn, "redis_list-ack:" + key_,
                       fmt::format("redis_list {}: acknowledgements failed ({}); trying again", key_, why));
      co_await runtime::sleep_for(clock_, std::chrono::milliseconds(std::min(100 << std::min(attempt, 6), 5000)));
    }
    // Given up: reliable items stay in the processing list and come back at
    // the next start; nothing is lost.
  }

  std::shared_ptr<redis::Client> client_;
  std::string key_;
  bool reliable_;
  std::string consumer_, processing_, dead_key_;
  core::Nanos wait_, heartbeat_, reap_after_;
  size_t max_batch_;
  const core::Clock& clock_;
  std::atomic<bool> closed_{false}, draining_{false}, heartbeat_running_{false};
  std::shared_ptr<std::atomic<bool>> gone_ = std::make_shared<std::atomic<bool>>(false);
  metrics::Counter *received_, *recovered_, *reaped_;
  Acks acks_;
};

void validate(const config::Values& v) {
  redis_settings::validate_connection(v);
  if (v.duration("reap_after") < 3 * v.duration("heartbeat"))
    throw v.error("reap_after", "reap_after must be at least three heartbeats, or a consumer that misses one beat "
                                "has its items taken away");
}

}  // namespace

config::ComponentSpec redis_list_input_spec() {
  using config::Type;
  return {
      .name = "redis_list",
      .kind = config::Kind::input,
      .summary = "Takes items from a Redis list. mode: reliable (default) moves each into this consumer's "
                 "processing list (<key>:processing:<consumer>) with BLMOVE, and removes it when delivered; an "
                 "errored item goes back onto the list, a rejected one onto the dead-letter list; at start the "
                 "consumer puts back what its processing list held, and consumers that stop heartbeating have theirs put "
                 "back by the others. mode: pop (BRPOP) loses in-flight items on a "
                 "crash. Metadata: redis_key.",
      .fields = redis_settings::with_connection_fields(
          {{.name = "key", .doc = "The list (producers LPUSH; this takes from the right).", .required = true},
           {.name = "mode", .doc = "reliable or pop.", .default_value = "reliable", .choices = {"reliable", "pop"}},
           {.name = "consumer",
            .doc = "This consumer's name in its processing list, stable across restarts so that a restarted "
                   "consumer puts back what it had in flight; default the host name (two processes on one host "
                   "that share a list need one each)."},
           {.name = "dead_letter_key", .doc = "Where rejected items go; default <key>:dead."},
           {.name = "wait_time", .type = Type::duration,
            .doc = "How long a take blocks for an item (close() waits at most this).", .default_value = "500ms",
            .min = 0.01, .max = 30},
           {.name = "batch_size", .type = Type::integer, .doc = "Items per read.", .default_value = "100", .min = 1,
            .max = 10000},
           {.name = "heartbeat", .type = Type::duration,
            .doc = "How often a reliable consumer says it is alive (in <key>:consumers) and looks for consumers "
                   "that are not.",
            .default_value = "2s", .min = 0.1, .max = 60},
           {.name = "reap_after", .type = Type::duration,
            .doc = "A consumer silent this long is gone: the next heartbeat of another consumer puts its "
                   "processing list back on the list.",
            .default_value = "30s", .min = 1, .max = 86400}}),
      .validate = validate,
      .make_input = runtime::build<RedisListInput>,
  };
}

}  // namespace sluice::connectors
