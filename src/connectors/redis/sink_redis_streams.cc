// The redis_streams output: each batch as one pipelined round of XADDs, in
// order; the payload in the `body_key` field, with an approximate MAXLEN
// when given (Redis trims whole macro nodes: cheap, and never below it).
#include <fmt/format.h>

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

class RedisStreamsOutput final : public runtime::Output {
 public:
  RedisStreamsOutput(const config::Values& v, runtime::BuildContext& ctx)
      : client_(redis_settings::client_for(v, ctx)),
        stream_(v.tmpl("stream")),
        body_key_(v.str("body_key")),
        max_length_(v.integer("max_length")),
        max_batch_(static_cast<size_t>(v.integer("max_batch"))) {}

  size_t max_batch() const override { return max_batch_; }

  runtime::Task<runtime::BatchOutcome> write(core::Batch& batch) override {
    runtime::BatchOutcome outcome;
    std::vector<redis::Command> commands;
    std::vector<size_t> sent;  // the message of each command
    for (size_t i = 0; i < batch.size(); ++i) {
      auto stream = stream_.render(batch.messages[i]);
      if (!stream || stream->empty()) {
        outcome.set(i, batch.size(), WriteOutcome::reject(stream ? "the stream renders empty" : stream.error().to_string()));
        continue;
      }
      redis::Command xadd{"XADD", std::move(*stream)};
      if (max_length_ > 0) {
        xadd.push_back("MAXLEN");
        xadd.push_back("~");
        xadd.push_back(std::to_string(max_length_));
      }
      xadd.push_back("*");
      xadd.push_back(body_key_);
      xadd.push_back(std::string(batch.messages[i].payload()));
      commands.push_back(std::move(xadd));
      sent.push_back(i);
    }
    if (commands.empty()) co_return outcome;
    auto replies = co_await client_->pipeline(std::move(commands));
    for (size_t c = 0; c < sent.size(); ++c) {
      const size_t i = sent[c];
      if (!replies) {
        outcome.set(i, batch.size(), redis_settings::unanswered(replies.error()));
      } else if (const auto& r = (*replies)[c]; r.is_error()) {
        outcome.set(i, batch.size(), redis_settings::refused(r.text, "Redis refused XADD: " + r.text));
      } else {
        batch.messages[i].meta().set("redis_stream_id", r.text);
      }
    }
    co_return outcome;
  }

 private:
  std::shared_ptr<redis::Client> client_;
  tmpl::Template stream_;
  std::string body_key_;
  int64_t max_length_;
  size_t max_batch_;
};

}  // namespace

config::ComponentSpec redis_streams_output_spec() {
  using config::Type;
  return {
      .name = "redis_streams",
      .kind = config::Kind::output,
      .summary = "Appends each message to a Redis stream with XADD: one pipelined round per batch, in order "
                 "(across batches too with the output's max_in_flight: 1); the "
                 "payload in one field (`body_key`), trimmed to about `max_length` entries when given. Sets "
                 "metadata redis_stream_id for `then:`. WRONGTYPE is rejected; OOM backs off; a lost connection "
                 "retries the batch (at least once).",
      .fields = redis_settings::with_connection_fields(
          {{.name = "stream", .type = Type::tmpl, .doc = "The stream; may use {{fields}}.", .required = true},
           {.name = "body_key", .doc = "The entry's field that holds the payload.", .default_value = "body"},
           {.name = "max_length", .type = Type::integer,
            .doc = "Trim the stream to about this many entries (MAXLEN ~); 0 keeps all.", .default_value = "0",
            .min = 0},
           {.name = "max_batch", .type = Type::integer, .doc = "Most messages in one round.",
            .default_value = "500", .min = 1, .max = 100000}}),
      .example = "output:\n  redis_streams: {url: \"redis://127.0.0.1:6379\", stream: events, max_length: 1000000}",
      .validate = redis_settings::validate_connection,
      .make_output = runtime::build<RedisStreamsOutput>,
  };
}

}  // namespace sluice::connectors
