// The redis_list output: each batch as one pipelined round, one LPUSH (or
// RPUSH) per key with all of the key's messages, in order.
#include <fmt/format.h>

#include <map>

#include "config/config.h"
#include "connectors/redis/redis.h"
#include "connectors/redis/settings.h"
#include "core/message.h"
#include "redis/client.h"
#include "runtime/component.h"
#include "template/template.h"

namespace sluice::connectors {
namespace {

using runtime::WriteOutcome;

class RedisListOutput final : public runtime::Output {
 public:
  RedisListOutput(const config::Values& v, runtime::BuildContext& ctx)
      : client_(redis_settings::client_for(v, ctx)),
        key_(v.tmpl("key")),
        push_(v.str("command") == "rpush" ? "RPUSH" : "LPUSH"),
        max_batch_(static_cast<size_t>(v.integer("max_batch"))) {}

  size_t max_batch() const override { return max_batch_; }

  runtime::Task<runtime::BatchOutcome> write(core::Batch& batch) override {
    runtime::BatchOutcome outcome;
    // key -> the messages for it, in batch order
    std::map<std::string, std::vector<size_t>> by_key;
    for (size_t i = 0; i < batch.size(); ++i) {
      auto key = key_.render(batch.messages[i]);
      if (!key) outcome.set(i, batch.size(), WriteOutcome::reject(key.error().to_string()));
      else if (key->empty()) outcome.set(i, batch.size(), WriteOutcome::reject("the key renders empty"));
      else by_key[*key].push_back(i);
    }
    if (by_key.empty()) co_return outcome;
    std::vector<redis::Command> commands;
    for (const auto& [key, indices] : by_key) {
      redis::Command c{push_, key};
      for (size_t i : indices) c.push_back(batch.messages[i].payload());
      commands.push_back(std::move(c));
    }
    auto replies = co_await client_->pipeline(std::move(commands));
    if (!replies) {
      const auto o = redis_settings::unanswered(replies.error());
      for (const auto& [key, indices] : by_key)
        for (size_t i : indices) outcome.set(i, batch.size(), o);
      co_return outcome;
    }
    size_t k = 0;
    for (const auto& [key, indices] : by_key) {
      const auto& r = (*replies)[k++];
      if (!r.is_error()) continue;
      const auto o = redis_settings::refused(r.text, fmt::format("Redis refused {} {}: {}", push_, key, r.text));
      for (size_t i : indices) outcome.set(i, batch.size(), o);
    }
    co_return outcome;
  }

 private:
  std::shared_ptr<redis::Client> client_;
  tmpl::Template key_;
  std::string push_;
  size_t max_batch_;
};

}  // namespace

config::ComponentSpec redis_list_output_spec() {
  using config::Type;
  return {
      .name = "redis_list",
      .kind = config::Kind::output,
      .summary = "Pushes each message's payload onto a Redis list: one pipelined round per batch, one LPUSH (or "
                 "RPUSH) per key with all of its messages in order. WRONGTYPE is rejected; OOM backs off; a lost "
                 "connection retries the batch.",
      .fields = redis_settings::with_connection_fields(
          {{.name = "key", .type = Type::tmpl, .doc = "The list; may use {{fields}}.", .required = true},
           {.name = "command", .doc = "lpush (consumers take from the right: a queue) or rpush.",
            .default_value = "lpush", .choices = {"lpush", "rpush"}},
           {.name = "max_batch", .type = Type::integer, .doc = "Most messages in one round.",
            .default_value = "500", .min = 1, .max = 100000}}),
      .example = "output:\n  redis_list: {url: \"redis://127.0.0.1:6379\", key: \"jobs:{{kind}}\"}",
      .validate = redis_settings::validate_connection,
      .make_output = runtime::build<RedisListOutput>,
  };
}

}  // namespace sluice::connectors
