// The sqs output: SendMessageBatch of up to 10 messages whose bodies fit the
// queue's MaximumMessageSize together (read at start; SQS's 1 MiB payload
// limit otherwise). Only entries SQS failed are retried; a sender fault
// (a body too big, bad characters, a missing group id on a FIFO queue) is
// rejected with SQS's code and message.
#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include <optional>

#include "config/config.h"
#include "connectors/sqs/client.h"
#include "connectors/sqs/settings.h"
#include "connectors/sqs/sqs.h"
#include "logging/log.h"
#include "metrics/metrics.h"
#include "runtime/component.h"
#include "template/template.h"

namespace sluice::connectors {
namespace {

constexpr size_t kPerCall = 10;
constexpr size_t kDefaultMaxBytes = 1 << 20;  // SQS's largest message and batch payload

class SqsOutput final : public runtime::Output {
 public:
  SqsOutput(const config::Values& v, runtime::BuildContext& ctx)
      : client_(sqs::make_client(v, ctx)),
        url_(v.str("url")),
        delay_(v.has("delay") ? std::chrono::duration_cast<std::chrono::seconds>(v.duration("delay")).count() : 0) {
    if (v.has("message_group_id")) group_ = v.tmpl("message_group_id");
    if (v.has("deduplication_id")) dedup_ = v.tmpl("deduplication_id");
  }

  size_t max_batch() const override { return kPerCall; }

  runtime::Task<runtime::BatchOutcome> write(core::Batch& batch) override {
    if (!max_bytes_) co_await read_max_size();
    runtime::BatchOutcome outcome;
    std::vector<sqs::Entry> entries;
    std::vector<size_t> index_of;  // entry -> message
    size_t bytes = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& m = batch.messages[i];
      const std::string& body = m.payload();
      if (body.size() > *max_bytes_) {
        outcome.set(i, batch.size(),
                    runtime::WriteOutcome::reject(fmt::format("{} bytes is more than the queue's MaximumMessageSize {}",
                                                              body.size(), *max_bytes_)));
        continue;
      }
      sqs::Entry e{std::to_string(i), body, {}, {}};
      if (auto problem = add_template(e, "MessageGroupId", group_, m)) {
        outcome.set(i, batch.size(), runtime::WriteOutcome::reject(*problem));
        continue;
      }
      if (auto problem = add_template(e, "MessageDeduplicationId", dedup_, m)) {
        outcome.set(i, batch.size(), runtime::WriteOutcome::reject(*problem));
        continue;
      }
      if (bytes + body.size() > *max_bytes_) {  // the rest goes in a later write
        outcome.set(i, batch.size(), runtime::WriteOutcome::retry("batch payload limit; sent in the next call"));
        continue;
      }
      bytes += body.size();
      entries.push_back(std::move(e));
      index_of.push_back(i);
    }
    if (entries.empty()) co_return outcome;
    auto sent = co_await send(std::move(entries));
    if (!sent) {
      const auto o = sent.error().is(core::Errc::unavailable) ? runtime::WriteOutcome::overload(sent.error().to_string())
                     : sent.error().is(core::Errc::io_error)   ? runtime::WriteOutcome::reject(sent.error().to_string())
                                                               : runtime::WriteOutcome::retry(sent.error().to_string());
      for (size_t i : index_of) outcome.set(i, batch.size(), o);
      co_return outcome;
    }
    for (const auto& f : *sent) {
      const size_t i = static_cast<size_t>(std::stoul(f.id));
      const std::string why = fmt::format("SQS refused the message: {}: {}", f.code, f.message);
      outcome.set(i, batch.size(),
                  f.sender_fault ? runtime::WriteOutcome::reject(why) : runtime::WriteOutcome::retry(why));
    }
    co_return outcome;
  }

 private:
  static std::optional<std::string> add_template(sqs::Entry& e, const char* key,
                                                 const std::optional<tmpl::Template>& t, const core::Message& m) {
    if (!t) return std::nullopt;
    auto value = t->render(m);
    if (!value) return fmt::format("{}: {}", key, value.error().to_string());
    e.extra[key] = std::move(*value);
    return std::nullopt;
  }

  runtime::Task<core::Result<std::vector<sqs::EntryFailure>>> send(std::vector<sqs::Entry> entries) {
    if (delay_ > 0)
      for (auto& e : entries) e.extra["DelaySeconds"] = std::to_string(delay_);
    co_return co_await client_->send_batch(url_, std::move(entries));
  }

  runtime::Task<void> read_max_size() {
    auto attrs = co_await client_->queue_attributes(url_);
    max_bytes_ = kDefaultMaxBytes;
    if (!attrs) {
      logging::warn("sqs {}: cannot read MaximumMessageSize ({}); assuming {} bytes", url_, attrs.error().to_string(),
                    kDefaultMaxBytes);
      co_return;
    }
    if (auto it = attrs->find("MaximumMessageSize"); it != attrs->end())
      max_bytes_ = std::min<size_t>(kDefaultMaxBytes, std::stoul(it->second));
  }

  std::shared_ptr<sqs::Client> client_;
  std::string url_;
  int64_t delay_;
  std::optional<tmpl::Template> group_, dedup_;
  std::optional<size_t> max_bytes_;
};

}  // namespace

config::ComponentSpec sqs_output_spec() {
  using config::Type;
  return {
      .name = "sqs",
      .kind = config::Kind::output,
      .summary = "Sends to an AWS SQS queue with SendMessageBatch (10 a call, within the queue's "
                 "MaximumMessageSize). Entries SQS fails are retried alone; a sender fault is rejected with SQS's "
                 "code and message.",
      .fields = sqs::with_connection_fields(
          {{.name = "message_group_id", .type = Type::tmpl,
            .doc = "MessageGroupId (FIFO queues; on a standard queue, fair queues)."},
           {.name = "deduplication_id", .type = Type::tmpl, .doc = "MessageDeduplicationId (FIFO queues)."},
           {.name = "delay", .type = Type::duration, .doc = "DelaySeconds of each message.", .min = 0, .max = 900}}),
      .validate = sqs::validate_connection,
      .make_output = [](const config::Values& v, runtime::BuildContext& ctx) -> std::unique_ptr<runtime::Output> {
        return std::make_unique<SqsOutput>(v, ctx);
      },
  };
}

}  // namespace sluice::connectors
