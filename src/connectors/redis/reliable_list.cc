#include "connectors/redis/reliable_list.h"

#include <unistd.h>

#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include "async/spawn.h"
#include "config/config.h"
#include "logging/log.h"
#include "metrics/metrics.h"
#include "redis/script.h"
#include "runtime/build_context.h"
#include "runtime/sleep.h"

namespace sluice::connectors {
namespace {

namespace asio = boost::asio;

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

}  // namespace

std::string blocking_timeout(core::Nanos d) {
  return fmt::format("{:.3f}", std::chrono::duration<double>(d).count());
}

runtime::Task<void> settle_patiently(redis::Client& client, std::vector<redis::Command> commands,
                                     const std::atomic<bool>& closing, const core::Clock& clock,
                                     const std::string& what) {
  if (commands.empty()) co_return;
  const int64_t began = clock.now_ns();
  for (int attempt = 0;; ++attempt) {
    std::vector<redis::Command> these = commands;
    auto r = co_await client.pipeline(std::move(these));
    std::string why = r ? std::string() : r.error().to_string();
    if (r)
      for (const auto& reply : *r)
        if (reply.is_error()) why = "Redis answered " + reply.text;
    if (why.empty()) co_return;
    const bool patient = !closing && clock.now_ns() - began < std::chrono::nanoseconds(std::chrono::minutes(2)).count();
    if (attempt + 1 >= 5 && !patient) co_return;
    logging::limited(logging::Level::warn, "redis-ack:" + what,
                     fmt::format("{}: acknowledgements failed ({}); trying again", what, why));
    co_await runtime::sleep_for(clock, std::chrono::milliseconds(std::min(100 << std::min(attempt, 6), 5000)));
  }
}

std::string default_consumer() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return host;
}

std::vector<config::Field> ReliableList::with_fields(std::vector<config::Field> own, const std::string& item) {
  using config::Type;
  own.push_back({.name = "consumer",
                 .doc = "This consumer's name in its processing list, stable across restarts so that a restarted "
                        "consumer puts back what it had in flight; default the host name (two processes on one "
                        "host that share a list need one each)."});
  own.push_back({.name = "wait_time", .type = Type::duration,
                 .doc = fmt::format("How long a take blocks for an {} (close() waits at most this).", item),
                 .default_value = "500ms", .min = 0.01, .max = 30});
  own.push_back({.name = "batch_size", .type = Type::integer, .doc = fmt::format("{}s per read.", item),
                 .default_value = "100", .min = 1, .max = 10000});
  own.push_back({.name = "heartbeat", .type = Type::duration,
                 .doc = "How often a reliable consumer says it is alive (in <key>:consumers) and looks for "
                        "consumers that are not.",
                 .default_value = "2s", .min = 0.1, .max = 60});
  own.push_back({.name = "reap_after", .type = Type::duration,
                 .doc = "A consumer silent this long is gone: the next heartbeat of another consumer puts its "
                        "processing list back on the list.",
                 .default_value = "30s", .min = 1, .max = 86400});
  return own;
}

void ReliableList::validate(const config::Values& v) {
  if (v.duration("reap_after") < 3 * v.duration("heartbeat"))
    throw v.error("reap_after", "reap_after must be at least three heartbeats, or a consumer that misses one beat "
                                "has its items taken away");
}

ReliableList::Options ReliableList::options(const config::Values& v, std::string key, std::string metric_prefix,
                                            std::string what) {
  return {.key = std::move(key),
          .consumer = v.has("consumer") ? v.str("consumer") : default_consumer(),
          .wait = v.duration("wait_time"),
          .heartbeat = v.duration("heartbeat"),
          .reap_after = v.duration("reap_after"),
          .batch_size = static_cast<size_t>(v.integer("batch_size")),
          .metric_prefix = std::move(metric_prefix),
          .what = std::move(what)};
}

ReliableList::ReliableList(std::shared_ptr<redis::Client> client, Options o, runtime::BuildContext& ctx)
    : client_(std::move(client)),
      o_(std::move(o)),
      processing_(o_.key + ":processing:" + o_.consumer),
      clock_(ctx.clock()) {
  const metrics::Labels l = {{"pipeline", ctx.pipeline()}, {"key", o_.key}};
  recovered_ = &ctx.metrics().counter(o_.metric_prefix + "_recovered_total",
                                      "Items a restarted consumer found in its processing list and put back.", l);
  reaped_ = &ctx.metrics().counter(o_.metric_prefix + "_reaped_total",
                                   "Items of consumers that stopped heartbeating, put back on the list.", l);
}

ReliableList::~ReliableList() { *gone_ = true; }

runtime::Task<void> ReliableList::start() {
  co_await recover();
  heartbeat_running_ = true;
  async::spawn(co_await asio::this_coro::executor, [this] { return heartbeat(); });
}

runtime::Task<core::Result<std::vector<std::string>>> ReliableList::take() {
  std::vector<std::string> items;
  // A blocking take waits at most `wait`: an input's close() ends a read within it.
  redis::Command blmove{"BLMOVE", o_.key, processing_, "RIGHT", "LEFT", blocking_timeout(o_.wait)};
  auto first = co_await client_->command(std::move(blmove), o_.wait);
  if (!first) co_return std::unexpected(first.error());
  if (first->is_error()) co_return core::fail(core::Errc::io_error, "Redis refused the take: " + first->text);
  if (first->is_null()) co_return items;
  items.push_back(std::move(first->text));
  if (o_.batch_size <= 1) co_return items;
  // The rest of the batch without waiting. A failure here loses nothing:
  // the items are in the processing list, recovered at the next start.
  std::vector<redis::Command> more(o_.batch_size - 1, redis::Command{"LMOVE", o_.key, processing_, "RIGHT", "LEFT"});
  auto replies = co_await client_->pipeline(std::move(more));
  if (replies)
    for (auto& r : *replies)
      if (r.type == redis::Reply::Type::bulk) items.push_back(std::move(r.text));
  co_return items;
}

runtime::Task<void> ReliableList::stop() {
  stopping_ = true;
  while (heartbeat_running_) co_await runtime::sleep_for(clock_, std::chrono::milliseconds(10));
}

void ReliableList::remove(std::vector<redis::Command>& commands, std::string item) const {
  commands.push_back({"LREM", processing_, "1", std::move(item)});
}

void ReliableList::move(std::vector<redis::Command>& commands, std::string item,
                        std::vector<redis::Command> pushes) const {
  commands.push_back({"MULTI"});
  for (auto& push : pushes) commands.push_back(std::move(push));
  remove(commands, std::move(item));
  commands.push_back({"EXEC"});
}

// A restarted consumer's items in flight, back where they are taken next.
runtime::Task<void> ReliableList::recover() {
  size_t moved = 0;
  for (;;) {
    // Newest first onto the list's taking end, so the oldest is taken first.
    std::vector<redis::Command> commands(100, redis::Command{"LMOVE", processing_, o_.key, "LEFT", "RIGHT"});
    auto replies = co_await client_->pipeline(std::move(commands));
    if (!replies) {
      logging::warn("{}: cannot recover {} ({}); its items come back at the next start", o_.what, processing_,
                    replies.error().to_string());
      break;
    }
    size_t got = 0;
    for (const auto& r : *replies) got += r.type == redis::Reply::Type::bulk;
    moved += got;
    if (got < replies->size()) break;
  }
  recovered_->inc(moved);
  if (moved > 0) logging::info("{}: {} item(s) left in flight by an earlier run put back", o_.what, moved);
}

// Every `heartbeat` until stopped: one script call that heartbeats and
// reaps. Redis away: the next beat tries again (a consumer silent past
// reap_after may be reaped meanwhile: its items are then delivered twice,
// never lost).
runtime::Task<void> ReliableList::heartbeat() {
  const auto gone = gone_;
  const core::Clock& clock = clock_;
  const redis::Script script(kHeartbeatAndReap);
  for (;;) {
    std::vector<std::string> keys{o_.key, o_.key + ":consumers"};  // named: GCC 12 and temporaries in co_await
    std::vector<std::string> args{o_.consumer, std::to_string(o_.reap_after / std::chrono::milliseconds(1)),
                                  o_.key + ":processing:", "1000"};
    auto moved = co_await script.run(*client_, std::move(keys), std::move(args));
    if (*gone) co_return;
    if (moved && moved->type == redis::Reply::Type::integer && moved->integer > 0) {
      reaped_->inc(static_cast<uint64_t>(moved->integer));
      logging::info("{}: {} item(s) of consumers silent for over {} ms put back", o_.what, moved->integer,
                    o_.reap_after / std::chrono::milliseconds(1));
    } else if (!moved || moved->is_error()) {
      logging::limited(logging::Level::warn, "reliable-heartbeat:" + o_.key,
                       fmt::format("{}: heartbeat failed ({})", o_.what,
                                   moved ? moved->text : moved.error().to_string()));
    }
    // In short steps, so that stop() is not kept waiting for a beat.
    for (core::Nanos slept{0}; !*gone && slept < o_.heartbeat && !stopping_; slept += std::chrono::milliseconds(50))
      co_await runtime::sleep_for(clock, std::chrono::milliseconds(50));
    if (*gone) co_return;
    if (stopping_) break;
  }
  heartbeat_running_ = false;
}

}  // namespace sluice::connectors
