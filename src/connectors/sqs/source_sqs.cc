// The sqs input: each receiver is one long poll (ReceiveMessage of up to 10,
// WaitTimeSeconds), so several polls wait at once and an idle queue costs
// one call per wait_time per receiver. With `receivers: {min, max}` the
// polls allowed at once follow the queue: one more after a full receive
// (a backlog), one fewer after an empty one, between min and max. A full
// pipeline stops the receives (its readers wait to hand over what they
// have), so it never scales up into a backlog of its own. Acknowledgements
// are batched:
//   delivered -> DeleteMessageBatch, 10 entries a call, calls at once;
//   errored   -> ChangeMessageVisibilityBatch to a backoff by receive count
//                (1 s, 2 s, 4 s ... 5 min): it comes back soon, not after
//                the queue's full visibility timeout;
//   rejected  -> on_reject: dead_letter sends it to the queue's redrive
//                dead-letter queue now (SendMessageBatch), then deletes it;
//                leave lets the redrive policy move it after its receives.
// A heartbeat keeps messages still in flight hidden: a message with less
// than half its visibility timeout left has it extended
// (ChangeMessageVisibilityBatch), for at most
// max_extension after their receive, so a slow output (a rate-limited
// provider) does not see them delivered twice. With `ordered: true` every
// receive passes through the runtime's KeySequencer by MessageGroupId: a
// group's messages go one at a time, in receive order (docs/sqs.md).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <unordered_map>
#include <boost/json.hpp>

#include "async/spawn.h"
#include "config/config.h"
#include "connectors/sqs/client.h"
#include "connectors/sqs/settings.h"
#include "logging/log.h"
#include "metrics/metrics.h"
#include "net/http_client.h"
#include "runtime/ack_batcher.h"
#include "runtime/component.h"
#include "runtime/key_sequencer.h"
#include "runtime/sleep.h"

namespace sluice::connectors {
namespace {

namespace asio = boost::asio;
using sqs::Client;
using sqs::Entry;

// What an ack needs to act on its message at the queue.
struct Token {
  std::string receipt_handle;
  int receive_count = 1;
  std::string body;  // kept for on_reject: dead_letter only
};

constexpr size_t kPerCall = 10;  // SQS's batch limit
constexpr auto kMaxBackoff = std::chrono::minutes(5);
constexpr int kCallAttempts = 5;  // of an ack's batch call
constexpr auto kDeleteRetries = std::chrono::minutes(2);  // how long a throttled delete keeps trying

std::chrono::seconds backoff(int receive_count) {
  const int shift = std::clamp(receive_count - 1, 0, 16);
  return std::min<std::chrono::seconds>(std::chrono::seconds(int64_t{1} << shift), kMaxBackoff);
}

// "arn:aws:sqs:eu-west-1:123456789012:orders-dlq" and the queue's own URL
// -> the dead-letter queue's URL on the same host.
std::string url_of_arn(const std::string& arn, const std::string& queue_url) {
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t colon = arn.find(':', start);
    parts.push_back(arn.substr(start, colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() != 6 || parts[2] != "sqs") return {};
  const size_t scheme_end = queue_url.find("://");
  const size_t path = scheme_end == std::string::npos ? std::string::npos : queue_url.find('/', scheme_end + 3);
  if (path == std::string::npos) return {};
  return queue_url.substr(0, path) + "/" + parts[4] + "/" + parts[5];
}

class SqsInput final : public runtime::Input {
 public:
  SqsInput(const config::Values& v, runtime::BuildContext& ctx)
      : client_(sqs::make_client(v, ctx)),
        url_(v.str("url")),
        max_messages_(static_cast<int>(v.integer("max_messages"))),
        wait_(std::chrono::duration_cast<std::chrono::seconds>(v.duration("wait_time"))),
        visibility_(v.has("visibility_timeout")
                        ? std::chrono::duration_cast<std::chrono::seconds>(v.duration("visibility_timeout"))
                        : std::chrono::seconds(0)),
        dead_letter_(v.str("on_reject") == "dead_letter"),
        max_extension_(v.duration("max_extension")),
        clock_(ctx.clock()),
        min_receivers_(static_cast<int>(v.object("receivers").integer("min"))),
        max_receivers_(static_cast<int>(v.object("receivers").integer("max"))),
        allowed_(min_receivers_),
        permits_(ctx.io(), static_cast<size_t>(max_receivers_)),
        cancel_(std::make_shared<net::Cancellation>()),
        acks_(ctx.io(), kPerCall * 10, std::chrono::milliseconds(50),
              [this](Acks::Groups g) { return settle(std::move(g)); }) {
    const metrics::Labels l = {{"pipeline", ctx.pipeline()}, {"queue", url_}};
    auto& m = ctx.metrics();
    received_ = &m.counter("sluice_sqs_messages_received_total", "Messages received from SQS.", l);
    empty_ = &m.counter("sluice_sqs_empty_receives_total",
                        "Receives that returned no message (each is a billed request).", l);
    failed_entries_ = &m.counter("sluice_sqs_failed_entries_total",
                                 "Entries of batch calls that SQS refused (the message may come back).", l);
    extensions_ = &m.counter("sluice_sqs_visibility_extensions_total",
                             "Messages whose visibility the heartbeat extended while they were in flight.", l);
    receivers_ = &m.gauge("sluice_sqs_receivers", "Long polls allowed at once (receivers, scaled between min and max).", l);
    receivers_->set(allowed_);
    for (int i = 0; i < min_receivers_; ++i) permits_.try_send(boost::system::error_code{});
    if (v.boolean("ordered")) sequencer_ = std::make_unique<runtime::KeySequencer>(ctx.io(), "sqs_message_group_id");
  }

  runtime::Task<void> start() override {
    co_await read_queue_attributes();
    auto ex = co_await asio::this_coro::executor;
    async::spawn(ex, [this] { return acks_.run(); });
    heartbeat_running_ = true;
    async::spawn(ex, [this] { return heartbeat(); });
  }

  ~SqsInput() override { *gone_ = true; }

  runtime::Task<core::Result<core::Batch>> read() override {
    // Ordered: one reader at a time hands over what the sequencer released
    // (the next message of a group whose previous one was acknowledged).
    if (sequencer_ && !ready_reader_.exchange(true)) {
      auto released = co_await sequencer_->released();
      ready_reader_ = false;
      co_return released;
    }
    for (;;) {
      if (cancel_->cancelled()) co_return core::fail(core::Errc::closed);
      auto [closed] = co_await permits_.async_receive(asio::as_tuple(asio::use_awaitable));
      if (closed || cancel_->cancelled()) co_return core::fail(core::Errc::closed);
      sqs::ReceiveOptions options{max_messages_, wait_, visibility_, cancel_};  // named: see async/blocking.h
      // SQS starts a message's visibility timeout when it picks it, after
      // this and before the answer arrives: counting from here keeps the
      // heartbeat ahead of it however slow the answer is.
      const int64_t asked_at = clock_.now_ns();
      auto got = co_await client_->receive(url_, std::move(options));
      scale(got ? got->size() : size_t{1});
      if (!got) {
        if (got.error().is(core::Errc::closed) || cancel_->cancelled()) co_return core::fail(core::Errc::closed);
        co_return std::unexpected(got.error());  // logged; the pipeline retries after a pause
      }
      if (got->empty()) {
        empty_->inc();
        continue;
      }
      received_->inc(got->size());
      auto batch = to_batch(std::move(*got), asked_at);
      if (sequencer_) {
        batch = sequencer_->admit(std::move(batch));
        if (batch.empty()) continue;  // each waits for its group's previous message
      }
      co_return batch;
    }
  }

  void close() override {
    cancel_->cancel();
    permits_.close();  // receivers waiting for a turn end too
    if (sequencer_) sequencer_->close();
  }
  // The last deletes go out, then the heartbeat ends (nothing is in flight
  // any more); both are awaited, so neither outlives the input.
  runtime::Task<void> drain() override {
    co_await acks_.drain();
    draining_ = true;
    while (heartbeat_running_) co_await runtime::sleep_for(clock_, std::chrono::milliseconds(10));
  }

 private:
  using Acks = runtime::AckBatcher<Token>;

  // Gives back the permit of a receive that brought `got` messages: plus one
  // more after a full receive, none after an empty one (within min..max).
  void scale(size_t got) {
    size_t give = 1;
    {
      std::lock_guard lock(scale_mu_);
      if (got >= static_cast<size_t>(max_messages_) && allowed_ < max_receivers_) {
        ++allowed_;
        give = 2;
      } else if (got == 0 && allowed_ > min_receivers_) {
        --allowed_;
        give = 0;
      }
      receivers_->set(allowed_);
    }
    for (size_t i = 0; i < give; ++i) permits_.try_send(boost::system::error_code{});
  }

  core::Batch to_batch(std::vector<sqs::Received> received, int64_t asked_at) {
    core::Batch b;
    for (auto& r : received) {
      core::Message m(r.body);
      auto& meta = m.meta();
      meta.set("sqs_message_id", r.message_id);
      int count = 1;
      if (auto it = r.attributes.find("ApproximateReceiveCount"); it != r.attributes.end()) {
        meta.set("sqs_receive_count", it->second);
        count = std::max(1, std::atoi(it->second.c_str()));
      }
      if (auto it = r.attributes.find("SentTimestamp"); it != r.attributes.end()) meta.set("sqs_sent_timestamp", it->second);
      if (auto it = r.attributes.find("MessageGroupId"); it != r.attributes.end()) meta.set("sqs_message_group_id", it->second);
      for (const auto& [k, val] : r.message_attributes) meta.set(k, val);
      {
        std::lock_guard lock(flight_mu_);
        in_flight_.emplace(r.receipt_handle,
                           Flight{asked_at, asked_at + std::chrono::nanoseconds(visibility()).count(), 0});
      }
      Token t{std::move(r.receipt_handle), count, dead_letter_ ? std::move(r.body) : std::string()};
      m.set_ack(acks_.handle(std::move(t)));
      b.messages.push_back(std::move(m));
    }
    return b;
  }

  // The queue's VisibilityTimeout (unless configured) paces the heartbeat;
  // its RedrivePolicy names where rejected messages go.
  runtime::Task<void> read_queue_attributes() {
    auto attrs = co_await client_->queue_attributes(url_);
    if (!attrs) {
      logging::warn("sqs {}: cannot read the queue's attributes ({}); rejected messages are left to its redrive "
                    "policy, and in-flight messages are kept hidden for 30 s at a time",
                    url_, attrs.error().to_string());
      co_return;
    }
    if (visibility_.count() == 0)
      if (auto it = attrs->find("VisibilityTimeout"); it != attrs->end())
        queue_visibility_ = std::chrono::seconds(std::max(1L, std::atol(it->second.c_str())));
    if (!dead_letter_) co_return;
    auto it = attrs->find("RedrivePolicy");
    if (it == attrs->end()) {
      logging::warn("sqs {}: the queue has no RedrivePolicy: a rejected message is left in it and comes back after "
                    "its visibility timeout; give the queue a dead-letter queue, or the pipeline a dead_letter",
                    url_);
      co_return;
    }
    boost::system::error_code ec;
    auto policy = boost::json::parse(it->second, ec);
    const auto* arn = !ec && policy.is_object() ? policy.as_object().if_contains("deadLetterTargetArn") : nullptr;
    if (arn && arn->is_string()) dead_letter_url_ = url_of_arn(std::string(arn->as_string()), url_);
    if (dead_letter_url_.empty())
      logging::warn("sqs {}: cannot read the dead-letter queue from RedrivePolicy {}", url_, it->second);
    else
      logging::info("sqs {}: rejected messages go to {}", url_, dead_letter_url_);
  }

  // A delivered message stays in the heartbeat's care until its delete is
  // done: it must not reappear while the delete is being retried. The
  // others leave it now (their visibility is being set on purpose).
  runtime::Task<void> settle(Acks::Groups g) {
    forget(g.errored);
    forget(g.rejected);
    {
      const int64_t now = clock_.now_ns();
      std::lock_guard lock(flight_mu_);
      for (const auto& t : g.delivered)
        if (auto it = in_flight_.find(t.receipt_handle); it != in_flight_.end()) it->second.deleting_since = now;
    }
    auto ex = co_await asio::this_coro::executor;
    std::vector<std::function<runtime::Task<void>()>> calls;
    auto chunks = [](std::vector<Token>& tokens, auto make) {
      for (size_t at = 0; at < tokens.size(); at += kPerCall) make(at, std::min(tokens.size(), at + kPerCall));
    };
    chunks(g.delivered, [&](size_t from, size_t to) {
      std::vector<Entry> e;
      for (size_t i = from; i < to; ++i) e.push_back({std::to_string(i), g.delivered[i].receipt_handle, {}, {}});
      calls.push_back([this, e = std::move(e)] { return batch_call("DeleteMessageBatch", e); });
    });
    chunks(g.errored, [&](size_t from, size_t to) {
      std::vector<Entry> e;
      for (size_t i = from; i < to; ++i)
        e.push_back({std::to_string(i), g.errored[i].receipt_handle, backoff(g.errored[i].receive_count), {}});
      calls.push_back([this, e = std::move(e)] { return batch_call("ChangeMessageVisibilityBatch", e); });
    });
    if (!g.rejected.empty() && !dead_letter_url_.empty()) {
      chunks(g.rejected, [&](size_t from, size_t to) {
        std::vector<Token> t(std::make_move_iterator(g.rejected.begin() + static_cast<ptrdiff_t>(from)),
                             std::make_move_iterator(g.rejected.begin() + static_cast<ptrdiff_t>(to)));
        calls.push_back([this, t = std::move(t)] { return move_to_dead_letter(t); });
      });
    } else if (!g.rejected.empty()) {
      logging::limited(logging::Level::warn, "sqs-rejected:" + url_,
                       fmt::format("sqs {}: {} rejected message(s) left in the queue for its redrive policy", url_,
                                   g.rejected.size()));
    }
    co_await async::all(ex, std::move(calls));
    forget(g.delivered);
  }

  void forget(const std::vector<Token>& tokens) {
    std::lock_guard lock(flight_mu_);
    for (const auto& t : tokens) in_flight_.erase(t.receipt_handle);
  }

  // One batch call; entries SQS refuses are logged (the message comes back
  // after its visibility timeout), a failed call likewise.
  // Throttled or unavailable, the call is tried again after about 50, 100,
  // 200 ms ... at most 5 s apart. A delete given up on is a message
  // delivered twice, and the heartbeat keeps the message hidden meanwhile,
  // so deletes are tried for up to kDeleteRetries (after close(), a few
  // times more); visibility changes a few times.
  runtime::Task<void> batch_call(const char* action, std::vector<Entry> entries) {
    const bool deleting = std::string_view(action) == "DeleteMessageBatch";
    const size_t n = entries.size();
    const int64_t began = clock_.now_ns();
    core::Result<std::vector<sqs::EntryFailure>> r;
    for (int attempt = 0;; ++attempt) {
      std::vector<Entry> these = entries;
      if (deleting)  // no co_await inside ?: (GCC 12; see async/blocking.h)
        r = co_await client_->delete_batch(url_, std::move(these));
      else
        r = co_await client_->change_visibility_batch(url_, std::move(these));
      if (r || !r.error().is(core::Errc::unavailable)) break;
      const bool patient = deleting && !cancel_->cancelled() &&
                           clock_.now_ns() - began < std::chrono::nanoseconds(kDeleteRetries).count();
      if (attempt + 1 >= kCallAttempts && !patient) break;
      // Jittered, so that calls throttled together do not come back together.
      thread_local std::minstd_rand jitter{std::random_device{}()};
      const int64_t cap = std::min<int64_t>(int64_t{50} << std::min(attempt, 7), 5000);
      const auto pause = std::chrono::milliseconds(cap / 2 + static_cast<int64_t>(jitter() % static_cast<uint64_t>(cap)));
      co_await runtime::sleep_for(clock_, std::min<core::Nanos>(pause, std::chrono::seconds(5)));
    }
    report(action, n, r);
  }

  runtime::Task<void> move_to_dead_letter(std::vector<Token> tokens) {
    std::vector<Entry> sends;
    for (size_t i = 0; i < tokens.size(); ++i) sends.push_back({std::to_string(i), tokens[i].body, {}, {}});
    auto sent = co_await client_->send_batch(dead_letter_url_, std::move(sends));
    report("SendMessageBatch", tokens.size(), sent);
    if (!sent) co_return;  // left in the queue: it comes back, and is rejected again
    std::vector<Entry> deletes;
    for (size_t i = 0; i < tokens.size(); ++i) {
      const std::string id = std::to_string(i);
      if (std::none_of(sent->begin(), sent->end(), [&id](const sqs::EntryFailure& f) { return f.id == id; }))
        deletes.push_back({id, tokens[i].receipt_handle, {}, {}});
    }
    co_await batch_call("DeleteMessageBatch", std::move(deletes));
  }

  std::chrono::seconds visibility() const { return visibility_.count() > 0 ? visibility_ : queue_visibility_; }

  // Every quarter visibility timeout (at most 1 s), extends the messages
  // with less than half of theirs left (or less than twice the time the
  // last extensions took to be answered, when the queue is slow).
  // `gone` is the frame's own: an input destroyed without drain() (a failed
  // start) leaves it set, and the heartbeat ends without touching it.
  runtime::Task<void> heartbeat() {
    const auto gone = gone_;
    const core::Clock& clock = clock_;
    auto ex = co_await asio::this_coro::executor;
    const auto step = std::min<core::Nanos>(std::chrono::seconds(1), std::chrono::nanoseconds(visibility()) / 4);
    int64_t last_round = 0;  // how long the last round of extension calls took
    while (!draining_) {
      co_await runtime::sleep_for(clock, step);
      if (*gone) co_return;
      if (draining_) break;
      std::vector<Entry> extend;
      {
        const int64_t now = clock_.now_ns();
        const int64_t full = std::chrono::nanoseconds(visibility()).count();
        // Early enough for the calls to arrive in time: with half the
        // timeout left, or more when the queue answers slowly.
        const int64_t lead = std::max(full / 2, 2 * (step.count() + last_round));
        std::lock_guard lock(flight_mu_);
        for (auto it = in_flight_.begin(); it != in_flight_.end();) {
          if (now - it->second.received_at > max_extension_.count()) {  // given up on: it comes back
            it = in_flight_.erase(it);
            continue;
          }
          // A delete under way is usually done before an extension would
          // land (and would be refused as invalid); one retried for a while
          // is kept hidden.
          const bool deleting = it->second.deleting_since > 0 && now - it->second.deleting_since < step.count();
          if (!deleting && it->second.hidden_until - now < lead) {
            extend.push_back({std::to_string(extend.size()), it->first, visibility(), {}});
            it->second.hidden_until = now + full;
          }
          ++it;
        }
      }
      if (extend.empty()) continue;
      extensions_->inc(extend.size());
      std::vector<std::function<runtime::Task<void>()>> calls;
      for (size_t at = 0; at < extend.size(); at += kPerCall) {
        std::vector<Entry> chunk(extend.begin() + static_cast<ptrdiff_t>(at),
                                 extend.begin() + static_cast<ptrdiff_t>(std::min(extend.size(), at + kPerCall)));
        calls.push_back([this, chunk = std::move(chunk)] { return batch_call("ChangeMessageVisibilityBatch", chunk); });
      }
      const int64_t round_began = clock.now_ns();
      co_await async::all(ex, std::move(calls));
      if (*gone) co_return;
      last_round = clock.now_ns() - round_began;
    }
    heartbeat_running_ = false;
  }

  void report(const char* action, size_t n, const core::Result<std::vector<sqs::EntryFailure>>& r) {
    if (!r) {
      logging::limited(logging::Level::warn, fmt::format("sqs-call:{}:{}", action, url_),
                       fmt::format("sqs {}: {} of {} message(s) failed: {}; they come back after their visibility "
                                   "timeout",
                                   url_, action, n, r.error().to_string()));
      failed_entries_->inc(n);
      return;
    }
    if (r->empty()) return;
    failed_entries_->inc(r->size());
    const auto& f = r->front();
    logging::limited(logging::Level::warn, fmt::format("sqs-entry:{}:{}", action, url_),
                     fmt::format("sqs {}: {} refused {} of {} entries, e.g. {}: {}", url_, action, r->size(), n,
                                 f.code, f.message));
  }

  std::shared_ptr<Client> client_;
  std::string url_;
  int max_messages_;
  std::chrono::seconds wait_;
  std::chrono::seconds visibility_;
  bool dead_letter_;
  core::Nanos max_extension_;
  const core::Clock& clock_;
  std::chrono::seconds queue_visibility_{30};  // SQS's default until the queue says
  std::string dead_letter_url_;
  std::mutex flight_mu_;
  struct Flight {
    int64_t received_at, hidden_until;  // clock ns; both from when the receive was sent
    int64_t deleting_since;             // its delete's start, 0 before
  };
  std::unordered_map<std::string, Flight> in_flight_;  // by receipt handle
  const int min_receivers_, max_receivers_;
  std::mutex scale_mu_;
  int allowed_;  // permits in play: waiting in permits_ or held by a receive
  asio::experimental::concurrent_channel<void(boost::system::error_code)> permits_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> heartbeat_running_{false};
  std::shared_ptr<std::atomic<bool>> gone_ = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<net::Cancellation> cancel_;
  metrics::Counter *received_, *empty_, *failed_entries_, *extensions_;
  metrics::Gauge* receivers_;
  Acks acks_;
  // ordered: true. Destroyed first: the messages still waiting go back to
  // acks_ as errored, to come back from SQS in order.
  std::unique_ptr<runtime::KeySequencer> sequencer_;
  std::atomic<bool> ready_reader_{false};
};

}  // namespace

config::ComponentSpec sqs_input_spec() {
  using config::Type;
  return {
      .name = "sqs",
      .kind = config::Kind::input,
      .summary = "Receives from an AWS SQS queue (JSON protocol, SigV4). Each receiver (`receivers`, default 8) is "
                 "one long poll of up to `max_messages`; with {min, max} the receivers follow the backlog. Acks are batched: delivered messages are deleted 10 a "
                 "call; a nacked one becomes visible again after a backoff by its receive count (1 s, 2 s, 4 s, "
                 "up to 5 min); a rejected one goes to the queue's redrive dead-letter queue at once (on_reject: "
                 "dead_letter), or stays for the redrive policy (leave). A heartbeat keeps messages still in flight hidden "
                 "(with half its visibility timeout left, a message's is extended; up to max_extension). Metadata: sqs_message_id, "
                 "sqs_receive_count, sqs_sent_timestamp, sqs_message_group_id, and each message attribute by name.",
      .fields = sqs::with_connection_fields(
          {{.name = "wait_time", .type = Type::duration,
            .doc = "Long poll: how long a receive waits for messages (WaitTimeSeconds, at most 20 s).",
            .default_value = "20s", .min = 0, .max = 20},
           {.name = "max_messages", .type = Type::integer, .doc = "Messages per receive.", .default_value = "10",
            .min = 1, .max = 10},
           {.name = "receivers", .type = Type::object,
            .doc = "Long polls at once; with {min, max} they follow the queue (one more after a full receive, one "
                   "fewer after an empty one).",
            .children = {{.name = "min", .type = Type::integer, .doc = "Fewest polls (an idle queue costs these).",
                          .default_value = "8", .min = 1, .max = 1024},
                         {.name = "max", .type = Type::integer, .doc = "Most polls (a backlog gets these).",
                          .default_value = "8", .min = 1, .max = 1024}},
            .scalar_sets_children = true},
           {.name = "visibility_timeout", .type = Type::duration,
            .doc = "How long a received message stays hidden; default: the queue's own.", .min = 1, .max = 43200},
           {.name = "max_extension", .type = Type::duration,
            .doc = "How long the heartbeat keeps a message in flight hidden after its receive; then it comes "
                   "back to be received again.",
            .default_value = "1h", .min = 1, .max = 43200},
           {.name = "ordered", .type = Type::boolean,
            .doc = "FIFO queues: the messages of one MessageGroupId go through the pipeline one at a time, in "
                   "receive order, each after the one before it was acknowledged (a failed one brings the rest "
                   "of its group back with it); groups go in parallel.",
            .default_value = "false"},
           {.name = "on_reject",
            .doc = "A message rejected for good: dead_letter (to the queue's redrive dead-letter queue now, then "
                   "deleted) or leave (the redrive policy moves it after maxReceiveCount receives).",
            .default_value = "dead_letter",
            .choices = {"dead_letter", "leave"}}}),
      .details =
          "Cost: SQS bills every API call as one request per 64 KiB of payload ($0.40 per million standard "
          "requests in most regions). Moving a message costs a receive and a delete, each shared by up to 10 "
          "messages: about 0.2 requests per message under load (a send on adds 0.1). An idle queue costs "
          "receivers.min receives per wait_time: 8 receivers polling 20 s make 24 a minute, about 1 million a "
          "month ($0.40). sluice_sqs_requests_billed_total counts the billed requests; over "
          "sluice_sqs_messages_received_total it is the requests per message a dashboard turns into dollars "
          "per million messages. docs/sqs.md has the rest: receivers, acks, FIFO, credentials, IAM.",
      .validate =
          [](const config::Values& v) {
            sqs::validate_connection(v);
            const auto& r = v.object("receivers");
            if (r.integer("min") > r.integer("max"))
              throw v.error("receivers", fmt::format("receivers.min ({}) is more than receivers.max ({})",
                                                     r.integer("min"), r.integer("max")));
          },
      // One more reader when ordered: it hands over what the sequencer releases.
      .readers = [](const config::Values& v) { return v.object("receivers").integer("max") + v.boolean("ordered"); },
      .make_input = [](const config::Values& v, runtime::BuildContext& ctx) -> std::unique_ptr<runtime::Input> {
        return std::make_unique<SqsInput>(v, ctx);
      },
  };
}

}  // namespace sluice::connectors
