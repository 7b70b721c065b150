// The amqp input: `consumers` channels on one connection, each with
// basic.qos(prefetch) and a consumer on `queue`, every delivery acked
// manually once its message is final:
//   delivered -> basic.ack, with multiple=true up to the highest tag below
//                which every delivery held is settled (outstanding.h);
//   errored   -> basic.nack with requeue (the broker delivers it again);
//   rejected  -> basic.nack without requeue (the queue's dead-letter
//                exchange takes it, if it has one).
// A delivery seen more than max_redeliveries times (x-delivery-count on
// quorum queues, else counted here) is rejected on arrival. Tags carry the
// connection's generation: acks for a connection that died are dropped (the
// broker has requeued those deliveries), never sent on its successor.
// A lost connection is made again with backoff, re-declaring the topology.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <unordered_map>

#include "amqp/connection.h"
#include "async/spawn.h"
#include "config/config.h"
#include "connectors/amqp/amqp.h"
#include "connectors/amqp/outstanding.h"
#include "connectors/amqp/settings.h"
#include "core/message.h"
#include "logging/log.h"
#include "metrics/metrics.h"
#include "runtime/ack_batcher.h"
#include "runtime/backoff.h"
#include "runtime/component.h"

namespace sluice::connectors {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

// What an ack needs to find its delivery again.
struct Tag {
  uint64_t generation = 0;
  uint16_t channel = 0;
  uint64_t tag = 0;
};

// What one socket read brought on one channel.
struct Arrived {
  uint64_t generation = 0;
  std::vector<amqp::Delivery> deliveries;
};

// A connection and what this input tracks on it. Shared with its channels'
// event callbacks, which run on the connection's reader.
struct Session {
  uint64_t generation = 0;
  std::shared_ptr<amqp::Connection> connection;
  std::mutex mu;
  std::map<uint16_t, amqp_input::Outstanding> outstanding;  // delivered to us, not yet settled, by channel
};

amqp::Table parse_arguments(const config::TemplateMap& arguments, const config::Values& v) {
  amqp::Table t;
  for (const auto& [key, value] : arguments) {
    auto text = value.render(core::Message{});
    if (!text) throw v.error("declare", fmt::format("argument {}: {}", key, text.error().to_string()));
    int64_t n = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
    if (ec == std::errc() && end == text->data() + text->size() && !text->empty())
      t.push_back({key, amqp::Field::of(n)});
    else if (*text == "true" || *text == "false")
      t.push_back({key, amqp::Field::of(*text == "true")});
    else
      t.push_back({key, amqp::Field::of(*text)});
  }
  return t;
}

class AmqpInput final : public runtime::Input {
 public:
  AmqpInput(const config::Values& v, runtime::BuildContext& ctx)
      : io_(ctx.io()),
        clock_(ctx.clock()),
        options_(amqp_settings::connect_options(v, "sluice " + ctx.pipeline() + " amqp input")),
        queue_(v.str("queue")),
        prefetch_(static_cast<uint16_t>(v.integer("prefetch"))),
        consumers_(static_cast<size_t>(v.integer("consumers"))),
        batch_(static_cast<size_t>(v.integer("batch_size"))),
        max_redeliveries_(v.has("max_redeliveries") ? std::optional<int64_t>(v.integer("max_redeliveries")) : std::nullopt),
        arrived_(ctx.io(), 2 * size_t{prefetch_} * consumers_ + 16),
        // Acks go out once a quarter of the prefetch window is settled: the
        // broker sends no more until they arrive, so waiting longer starves it.
        acks_(ctx.io(), std::max<size_t>(1, size_t{prefetch_} * consumers_ / 4), std::chrono::milliseconds(2),
              [this](Acks::Groups g) { return settle(std::move(g)); }) {
    // An object's value is always there; the queue is declared once any of its fields is given.
    if (const auto& d = v.object("declare"); d.has("type") || d.has("durable") || d.has("arguments")) {
      amqp::QueueOptions q;
      q.durable = !d.has("durable") || d.boolean("durable");
      if (d.has("arguments")) q.arguments = parse_arguments(d.tmpl_map("arguments"), v);
      const std::string type = d.has("type") ? d.str("type") : "classic";
      if (type != "classic")  // classic is the default; naming it would clash with a queue declared without it
        q.arguments.insert(q.arguments.begin(), {"x-queue-type", amqp::Field::of(type)});
      declare_ = std::move(q);
    }
    for (const auto& b : v.has("bindings") ? v.list("bindings") : std::vector<std::string>{}) {
      const auto colon = b.find(':');
      bindings_.emplace_back(b.substr(0, colon), colon == std::string::npos ? "" : b.substr(colon + 1));
    }
    auto& m = ctx.metrics();
    const metrics::Labels labels{{"pipeline", ctx.pipeline()}, {"queue", queue_}};
    auto with = [&](std::string k, std::string val) {
      auto l = labels;
      l.emplace_back(std::move(k), std::move(val));
      return l;
    };
    deliveries_ = &m.counter("sluice_amqp_deliveries_total", "Messages the broker delivered to the amqp input.", labels);
    redeliveries_ = &m.counter("sluice_amqp_redeliveries_total", "Deliveries the broker marked redelivered.", labels);
    acked_ = &m.counter("sluice_amqp_acks_total", "Deliveries acknowledged (basic.ack).", labels);
    ack_frames_ = &m.counter("sluice_amqp_ack_frames_total", "basic.ack frames sent (one may ack many: multiple=true).", labels);
    nacked_ = &m.counter("sluice_amqp_nacks_total", "Deliveries sent back to the queue (basic.nack, requeue).", labels);
    rejected_failed_ = &m.counter("sluice_amqp_rejects_total", "Deliveries refused without requeue, so the queue's "
                                  "dead-letter exchange takes them, by reason.", with("reason", "rejected"));
    rejected_looping_ = &m.counter("sluice_amqp_rejects_total", "", with("reason", "max_redeliveries"));
    stale_ = &m.counter("sluice_amqp_stale_acks_total", "Acks dropped because their connection had died (the broker "
                        "requeued those deliveries).", labels);
    unacked_ = &m.gauge("sluice_amqp_unacked", "Deliveries held by the amqp input and not yet acked.", labels);
    connected_ = &m.gauge("sluice_amqp_connected", "1 while the connection to the broker is up.",
                          with("component", "input"));
    reconnects_ = &m.counter("sluice_amqp_reconnects_total", "Connections to the broker made again after one was lost.",
                             with("component", "input"));
  }

  runtime::Task<void> start() override {
    auto ex = co_await asio::this_coro::executor;
    async::spawn(ex, [this] { return acks_.run(); });
    async::spawn(ex, [this] { return supervise(); });
  }

  runtime::Task<core::Result<core::Batch>> read() override {
    for (;;) {
      auto [ec, first] = co_await arrived_.async_receive(asio::as_tuple(asio::use_awaitable));
      if (ec || closed_) co_return core::fail(core::Errc::closed);
      core::Batch b;
      add(b, std::move(first));
      while (b.size() < batch_) {
        bool more = arrived_.try_receive([&](error_code e, Arrived a) {
          if (!e) add(b, std::move(a));
        });
        if (!more) break;
      }
      if (!b.messages.empty()) co_return b;
    }
  }

  void close() override {
    closed_ = true;
    arrived_.close();
  }

  // The last acks go out on the live connection, which is then closed; the
  // supervisor sees it end and stops.
  runtime::Task<void> drain() override {
    co_await acks_.drain();
    if (auto s = session()) co_await s->connection->close();
    while (supervising_) co_await amqp_settings::pause(clock_, std::chrono::milliseconds(10), [] { return false; });
  }

 private:
  using Acks = runtime::AckBatcher<Tag>;

  std::shared_ptr<Session> session() {
    std::lock_guard lock(mu_);
    return session_;
  }

  runtime::Task<void> supervise() {
    supervising_ = true;
    std::mt19937_64 rng(std::random_device{}());
    int failures = 0;
    uint64_t generation = 0;
    while (!closed_) {
      auto s = std::make_shared<Session>();
      s->generation = ++generation;
      auto ready = co_await open_session(s);
      if (!ready) {
        connected_->set(0);
        const auto delay = runtime::backoff_delay({.initial = std::chrono::milliseconds(100), .max = std::chrono::seconds(5)},
                                                  failures++, {}, rng);
        logging::warn("amqp input {}: {}; connecting again in {} ms", queue_, ready.error().detail,
                      std::chrono::duration_cast<std::chrono::milliseconds>(delay).count());
        if (s->connection) co_await s->connection->close();
        co_await amqp_settings::pause(clock_, delay, [this] { return closed_.load(); });
        continue;
      }
      if (generation > 1) reconnects_->inc();
      if (failures > 0 || generation > 1) logging::info("amqp input {}: connected to {}:{}", queue_, s->connection->endpoint().host, s->connection->endpoint().port);
      failures = 0;
      connected_->set(1);
      co_await s->connection->wait_closed();
      connected_->set(0);
      {
        std::lock_guard lock(s->mu);
        size_t held = 0;
        for (auto& [ch, tags] : s->outstanding) held += tags.open();
        unacked_->add(-static_cast<int64_t>(held));
        s->outstanding.clear();
      }
    }
    supervising_ = false;
  }

  // Connects, declares, binds, and starts the consumers.
  runtime::Task<core::Result<void>> open_session(std::shared_ptr<Session> s) {
    auto conn = co_await amqp::Connection::open(io_, options_);
    if (!conn) co_return std::unexpected(conn.error());
    s->connection = *conn;
    {
      // Before the first consumer starts: its deliveries are read against it.
      std::lock_guard lock(mu_);
      session_ = s;
    }
    auto& c = *s->connection;
    for (size_t i = 0; i < consumers_; ++i) {
      std::weak_ptr<Session> weak = s;
      amqp::ChannelEvents ev;
      ev.deliveries = [this, weak](std::vector<amqp::Delivery> ds) {
        if (auto live = weak.lock()) arrive(*live, std::move(ds));
      };
      ev.closed = [this, weak](const core::Error& e) {
        // A channel closed by the broker (the queue deleted, a bad ack): start
        // over on a fresh connection rather than run short of consumers.
        if (auto live = weak.lock(); live && live->connection->is_open() && !closed_) {
          logging::warn("amqp input {}: {}; reconnecting", queue_, e.detail);
          auto dying = live->connection;
          async::spawn(io_, [dying]() -> runtime::Task<void> { co_await dying->close(); });
        }
      };
      auto ch = co_await c.open_channel(ev);
      if (!ch) co_return std::unexpected(ch.error());
      if (i == 0) {
        if (declare_) {
          auto q = co_await c.declare_queue(*ch, queue_, *declare_);
          if (!q) co_return std::unexpected(q.error());
        }
        for (const auto& [exchange, key] : bindings_) {
          auto b = co_await c.bind_queue(*ch, queue_, exchange, key);
          if (!b) co_return std::unexpected(b.error());
        }
      }
      auto q = co_await c.qos(*ch, prefetch_);
      if (!q) co_return std::unexpected(q.error());
      auto consumer = co_await c.consume(*ch, queue_);
      if (!consumer) co_return std::unexpected(consumer.error());
    }
    co_return core::Result<void>{};
  }

  // On the connection's reader: count, screen out loops, hand over.
  void arrive(Session& s, std::vector<amqp::Delivery> ds) {
    deliveries_->inc(ds.size());
    unacked_->add(static_cast<int64_t>(ds.size()));
    const uint16_t channel = ds.front().channel;
    {
      std::lock_guard lock(s.mu);
      auto& out = s.outstanding[channel];
      for (const auto& d : ds) out.add(d.tag);
    }
    std::erase_if(ds, [&](const amqp::Delivery& d) {
      if (d.redelivered) redeliveries_->inc();
      if (!looping(d)) return false;
      rejected_looping_->inc();
      logging::warn("amqp input {}: delivery {} came back more than max_redeliveries ({}) times: rejected to the "
                    "dead-letter exchange",
                    queue_, d.properties.message_id.value_or("(no message-id)"), *max_redeliveries_);
      settle_one(s, d.channel, d.tag);
      s.connection->nack(d.channel, d.tag, false, false);
      return true;
    });
    if (ds.empty()) return;
    std::vector<uint64_t> tags;
    for (const auto& d : ds) tags.push_back(d.tag);
    if (!arrived_.try_send(error_code{}, Arrived{s.generation, std::move(ds)})) {
      // Closed (shutting down) or, against the prefetch bound, full.
      for (auto tag : tags) {
        settle_one(s, channel, tag);
        s.connection->nack(channel, tag, false, true);
      }
    }
  }

  // How often this message came back: the quorum queue's count, else ours
  // (by message-id, or by body when it has none), bounded in memory.
  bool looping(const amqp::Delivery& d) {
    if (!max_redeliveries_) return false;
    int64_t count = 0;
    if (const auto* c = amqp::find(d.properties.headers, "x-delivery-count")) {
      count = c->integer;
    } else {
      const std::string key = d.properties.message_id ? "id:" + *d.properties.message_id : "body:" + d.body;
      std::lock_guard lock(seen_mu_);
      if (!d.redelivered) return false;
      if (seen_.size() > 100000) seen_.clear();
      count = ++seen_[std::hash<std::string>{}(key)];
    }
    return count > *max_redeliveries_;
  }

  void settle_one(Session& s, uint16_t channel, uint64_t tag) {
    std::lock_guard lock(s.mu);
    if (s.outstanding[channel].settle(tag)) unacked_->add(-1);
  }

  void add(core::Batch& b, Arrived a) {
    auto s = session();
    if (!s || s->generation != a.generation) return;  // its connection died: the broker redelivers them
    for (auto& d : a.deliveries) add(b, a.generation, d);
  }

  void add(core::Batch& b, uint64_t generation, amqp::Delivery& d) {
    core::Message m(std::move(d.body));
    auto& meta = m.meta();
    meta.set("amqp_queue", queue_);
    meta.set("amqp_exchange", d.exchange);
    meta.set("amqp_routing_key", d.routing_key);
    meta.set("amqp_redelivered", d.redelivered ? "true" : "false");
    const auto& p = d.properties;
    auto opt = [&](const char* key, const std::optional<std::string>& value) {
      if (value) meta.set(key, *value);
    };
    opt("amqp_message_id", p.message_id);
    opt("amqp_correlation_id", p.correlation_id);
    opt("amqp_content_type", p.content_type);
    opt("amqp_content_encoding", p.content_encoding);
    opt("amqp_reply_to", p.reply_to);
    opt("amqp_type", p.type);
    opt("amqp_app_id", p.app_id);
    opt("amqp_user_id", p.user_id);
    opt("amqp_expiration", p.expiration);
    if (p.timestamp) meta.set("amqp_timestamp", std::to_string(*p.timestamp));
    if (p.priority) meta.set("amqp_priority", std::to_string(*p.priority));
    for (const auto& [name, value] : p.headers) meta.set("amqp_header_" + name, value.to_text());
    m.set_ack(acks_.handle(Tag{generation, d.channel, d.tag}));
    b.messages.push_back(std::move(m));
  }

  // One round per channel: the nacks first (an ack with multiple=true sent
  // after them cannot take them for acked), then one multiple-ack for the
  // settled run at the front, and single acks for delivered tags behind a
  // delivery still in flight (a later multiple-ack passing over them is
  // harmless: it settles only what the broker still holds).
  runtime::Task<void> settle(Acks::Groups g) {
    auto s = session();
    std::map<uint16_t, std::vector<uint64_t>> delivered, errored, rejected;
    size_t stale = 0;
    auto sort_into = [&](std::vector<Tag>& tags, std::map<uint16_t, std::vector<uint64_t>>& by_channel) {
      for (const auto& t : tags) {
        if (!s || t.generation != s->generation) ++stale;
        else by_channel[t.channel].push_back(t.tag);
      }
    };
    sort_into(g.delivered, delivered);
    sort_into(g.errored, errored);
    sort_into(g.rejected, rejected);
    if (stale) stale_->inc(stale);
    if (!s) co_return;
    auto& c = *s->connection;
    size_t settled = 0;
    {
      std::lock_guard lock(s->mu);
      auto nack_all = [&](std::map<uint16_t, std::vector<uint64_t>>& by_channel, bool requeue, metrics::Counter& n) {
        for (auto& [ch, tags] : by_channel) {
          auto& out = s->outstanding[ch];
          for (auto t : tags) {
            if (!out.settle(t)) continue;
            c.nack(ch, t, false, requeue);
            n.inc();
            ++settled;
          }
        }
      };
      nack_all(errored, true, *nacked_);
      nack_all(rejected, false, *rejected_failed_);
      for (auto& [ch, tags] : delivered) {
        auto& out = s->outstanding[ch];
        std::erase_if(tags, [&](uint64_t t) { return !out.settle(t); });
        // The multiple-ack names this round's highest tag in the run: the
        // broker refuses one naming a tag it no longer holds.
        const auto front = out.pop_settled_front();
        std::optional<uint64_t> run_end;
        for (auto t : tags) {
          if (front && t <= *front) {
            run_end = std::max(run_end.value_or(0), t);
          } else {
            c.ack(ch, t, false);
            ack_frames_->inc();
          }
        }
        if (run_end) {
          c.ack(ch, *run_end, true);
          ack_frames_->inc();
        }
        acked_->inc(tags.size());
        settled += tags.size();
      }
    }
    unacked_->add(-static_cast<int64_t>(settled));
    co_return;
  }

  asio::io_context& io_;
  const core::Clock& clock_;
  amqp::ConnectOptions options_;
  std::string queue_;
  uint16_t prefetch_;
  size_t consumers_;
  size_t batch_;
  std::optional<int64_t> max_redeliveries_;
  std::optional<amqp::QueueOptions> declare_;
  std::vector<std::pair<std::string, std::string>> bindings_;
  asio::experimental::concurrent_channel<void(error_code, Arrived)> arrived_;
  std::mutex mu_;
  std::shared_ptr<Session> session_;
  std::mutex seen_mu_;
  std::unordered_map<size_t, int64_t> seen_;
  std::atomic<bool> closed_{false}, supervising_{false};
  metrics::Counter *deliveries_, *redeliveries_, *acked_, *ack_frames_, *nacked_, *rejected_failed_, *rejected_looping_,
      *stale_, *reconnects_;
  metrics::Gauge *unacked_, *connected_;
  Acks acks_;
};

void validate(const config::Values& v) { amqp_settings::validate_connection(v); }

}  // namespace

config::ComponentSpec amqp_input_spec() {
  using config::Type;
  return {
      .name = "amqp",
      .kind = config::Kind::input,
      .summary = "Consumes a RabbitMQ (AMQP 0-9-1) queue with manual acks: `consumers` channels, each holding at "
                 "most `prefetch` unacked deliveries. Delivered messages are acked (batched into multiple-acks), "
                 "errored ones nacked back onto the queue, rejected ones nacked without requeue so the queue's "
                 "dead-letter exchange takes them. Reconnects with backoff and re-declares. Metadata: amqp_queue, "
                 "amqp_exchange, amqp_routing_key, amqp_redelivered, amqp_message_id, amqp_correlation_id, "
                 "amqp_content_type, amqp_reply_to, amqp_type, amqp_app_id, amqp_timestamp, amqp_header_<name>.",
      .fields = amqp_settings::with_connection_fields({
          {.name = "queue", .doc = "The queue to consume.", .required = true},
          {.name = "prefetch", .type = Type::integer,
           .doc = "Unacked deliveries per consumer (basic.qos). A few seconds of messages at the rate they are "
                  "processed; see docs/rabbitmq.md.",
           .default_value = "100", .min = 1, .max = 65535},
          {.name = "consumers", .type = Type::integer, .doc = "Channels consuming at once, each with its own prefetch.",
           .default_value = "1", .min = 1, .max = 64},
          {.name = "batch_size", .type = Type::integer, .doc = "Most deliveries one read hands the pipeline.",
           .default_value = "100", .min = 1, .max = 10000},
          {.name = "max_redeliveries", .type = Type::integer,
           .doc = "A delivery that came back more than this many times is rejected on arrival (to the dead-letter "
                  "exchange) instead of processed again: x-delivery-count on quorum queues, else counted by this "
                  "process. Unset: no bound.",
           .min = 0},
          {.name = "declare", .type = Type::object,
           .doc = "Declare the queue at each connect, once any of these is given (it may already exist with the same "
                  "settings; different ones are the broker's PRECONDITION_FAILED).",
           .children = {{.name = "durable", .type = Type::boolean, .doc = "Survives a broker restart (default true)."},
                        {.name = "type", .doc = "x-queue-type (default classic).", .choices = {"classic", "quorum", "stream"}},
                        {.name = "arguments", .type = Type::tmpl_map,
                         .doc = "More x-arguments, e.g. x-dead-letter-exchange: dlx, x-delivery-limit: 5 "
                                "(numbers and true/false are sent as such)."}}},
          {.name = "bindings", .type = Type::string_list,
           .doc = "exchange:routing_key pairs to bind the queue to at each connect, e.g. [\"amq.topic:sms.#\"]."},
      }),
      .example = "input:\n  amqp:\n    url: \"amqp://guest:guest@127.0.0.1:5672/\"\n    queue: send_mt\n    prefetch: 10",
      .validate = validate,
      .make_input = runtime::build<AmqpInput>,
  };
}

}  // namespace sluice::connectors
