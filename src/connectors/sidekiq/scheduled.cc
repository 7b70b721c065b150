#include "connectors/sidekiq/scheduled.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <cmath>

#include "redis/client.h"
#include "redis/script.h"

namespace sluice::connectors::sidekiq {
namespace {

namespace json = boost::json;

// KEYS: the set, the queue, `queues`. ARGV: the member, the job to push,
// the queue's name. Only the one that removes the member pushes it.
const char* const kMoveIfStillThere = R"lua(
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('SADD', KEYS[3], ARGV[3])
  redis.call('LPUSH', KEYS[2], ARGV[2])
  return 1
end
return 0
)lua";

}  // namespace

runtime::Task<Enqueued> enqueue_due(redis::Client& client, const std::string& ns, Format format, double now,
                                    size_t limit) {
  static const redis::Script move(kMoveIfStillThere);
  Enqueued result;
  for (const char* set : {"retry", "schedule"}) {
    const std::string set_key = key(ns, set);
    redis::Command range{"ZRANGEBYSCORE", set_key, "-inf", fmt::format("{:.6f}", now), "LIMIT", "0",
                         std::to_string(limit)};
    auto due = co_await client.command(std::move(range));
    if (!due || due->is_error()) {
      result.error = due ? due->text : due.error().to_string();
      co_return result;
    }
    for (const auto& member : due->elements) {
      boost::system::error_code ec;
      json::value job = json::parse(member.text, ec);
      json::object* o = ec ? nullptr : job.if_object();
      if (!o) {
        ++result.unreadable;
        continue;
      }
      const auto* q = o->if_contains("queue");
      const std::string queue = q && q->is_string() && !q->as_string().empty() ? std::string(q->as_string()) : "default";
      o->erase("at");
      (*o)["enqueued_at"] = time_value(now, format);
      std::vector<std::string> keys{set_key, key(ns, "queue:" + queue), key(ns, "queues")};
      std::vector<std::string> args{member.text, json::serialize(job), queue};
      auto moved = co_await move.run(client, std::move(keys), std::move(args));
      if (!moved || moved->is_error()) {
        result.error = moved ? moved->text : moved.error().to_string();
        co_return result;
      }
      result.moved += moved->integer == 1;
    }
  }
  co_return result;
}

}  // namespace sluice::connectors::sidekiq
