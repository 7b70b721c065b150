// The redis_list input. mode: reliable (default) takes items through a
// ReliableList (reliable_list.h: a processing list per consumer, recovered
// at start, reaped when its consumer stops heartbeating):
//   delivered -> LREM from the processing list (batched, pipelined);
//   errored   -> back onto the list's far end, in one MULTI with the LREM;
//   rejected  -> onto the dead-letter list (<key>:dead), likewise.
// mode: pop takes items with BRPOP/RPOP: an item in flight when sluice dies
// is lost, as with Redpanda Connect's and Vector's Redis inputs.
#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include <atomic>
#include <optional>

#include "async/spawn.h"
#include "config/config.h"
#include "connectors/redis/redis.h"
#include "connectors/redis/reliable_list.h"
#include "connectors/redis/settings.h"
#include "core/message.h"
#include "metrics/metrics.h"
#include "redis/client.h"
#include "runtime/ack_batcher.h"
#include "runtime/component.h"

namespace sluice::connectors {
namespace {

namespace asio = boost::asio;

class RedisListInput final : public runtime::Input {
 public:
  RedisListInput(const config::Values& v, runtime::BuildContext& ctx)
      : client_(redis_settings::client_for(v, ctx)),
        key_(v.str("key")),
        dead_key_(v.has("dead_letter_key") ? v.str("dead_letter_key") : key_ + ":dead"),
        wait_(v.duration("wait_time")),
        max_batch_(static_cast<size_t>(v.integer("batch_size"))),
        clock_(ctx.clock()),
        acks_(ctx.io(), 500, std::chrono::milliseconds(20), [this](Acks::Groups g) { return settle(std::move(g)); }) {
    if (v.str("mode") == "reliable")
      reliable_.emplace(client_, ReliableList::options(v, key_, "sluice_redis_list", "redis_list " + key_), ctx);
    received_ = &ctx.metrics().counter("sluice_redis_list_received_total", "Items taken from the Redis list.",
                                       {{"pipeline", ctx.pipeline()}, {"key", key_}});
  }

  runtime::Task<void> start() override {
    if (reliable_) co_await reliable_->start();
    async::spawn(co_await asio::this_coro::executor, [this] { return acks_.run(); });
  }

  runtime::Task<core::Result<core::Batch>> read() override {
    for (;;) {
      if (closed_) co_return core::fail(core::Errc::closed);
      core::Result<std::vector<std::string>> items;  // no co_await inside ?: (GCC 12 destroys twice)
      if (reliable_)
        items = co_await reliable_->take();
      else
        items = co_await pop();
      if (!items) {
        if (closed_) co_return core::fail(core::Errc::closed);
        co_return std::unexpected(items.error());  // logged; the pipeline retries after a pause
      }
      if (items->empty()) continue;
      received_->inc(items->size());
      co_return to_batch(std::move(*items));
    }
  }

  void close() override { closed_ = true; }
  // The last acks go out, then the heartbeat ends; both are awaited, so
  // neither outlives the input.
  runtime::Task<void> drain() override {
    co_await acks_.drain();
    if (reliable_) co_await reliable_->stop();
  }

 private:
  using Acks = runtime::AckBatcher<std::string>;

  // mode: pop. BRPOP waits at most wait_time for the first; RPOP with a
  // count takes the rest. What is popped is sluice's alone.
  runtime::Task<core::Result<std::vector<std::string>>> pop() {
    std::vector<std::string> items;
    redis::Command brpop{"BRPOP", key_, blocking_timeout(wait_)};
    auto first = co_await client_->command(std::move(brpop), wait_);
    if (!first) co_return std::unexpected(first.error());
    if (first->is_error()) co_return core::fail(core::Errc::io_error, "Redis refused the take: " + first->text);
    if (first->is_null()) co_return items;
    items.push_back(std::move(first->elements.at(1).text));
    if (max_batch_ > 1) {
      redis::Command rpop{"RPOP", key_, std::to_string(max_batch_ - 1)};
      auto more = co_await client_->command(std::move(rpop));
      if (more)
        for (auto& e : more->elements) items.push_back(std::move(e.text));
    }
    co_return items;
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

  // One pipelined round for all of them: LREM for the delivered, and a
  // MULTI each (push elsewhere + LREM) for the others. mode: pop has
  // nothing to remove: the errored and rejected are pushed again.
  runtime::Task<void> settle(Acks::Groups g) {
    std::vector<redis::Command> commands;
    auto push = [&](std::vector<std::string>& items, const std::string& to) {
      for (auto& item : items) {
        if (reliable_)
          reliable_->move(commands, item, {redis::Command{"LPUSH", to, item}});
        else
          commands.push_back({"LPUSH", to, std::move(item)});
      }
    };
    if (reliable_)
      for (auto& item : g.delivered) reliable_->remove(commands, std::move(item));
    push(g.errored, key_);
    push(g.rejected, dead_key_);
    co_await settle_patiently(*client_, std::move(commands), closed_, clock_, "redis_list " + key_);
  }

  std::shared_ptr<redis::Client> client_;
  std::string key_, dead_key_;
  core::Nanos wait_;
  size_t max_batch_;
  const core::Clock& clock_;
  std::optional<ReliableList> reliable_;
  std::atomic<bool> closed_{false};
  metrics::Counter* received_;
  Acks acks_;
};

void validate(const config::Values& v) {
  redis_settings::validate_connection(v);
  ReliableList::validate(v);
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
      .fields = redis_settings::with_connection_fields(ReliableList::with_fields(
          {{.name = "key", .doc = "The list (producers LPUSH; this takes from the right).", .required = true},
           {.name = "mode", .doc = "reliable or pop.", .default_value = "reliable", .choices = {"reliable", "pop"}},
           {.name = "dead_letter_key", .doc = "Where rejected items go; default <key>:dead."}},
                                "item")),
      .validate = validate,
      .make_input = runtime::build<RedisListInput>,
  };
}

}  // namespace sluice::connectors
