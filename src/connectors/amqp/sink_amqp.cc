// The amqp output: publishes each message to `exchange` with a templated
// routing key on one channel in confirm mode, every write's messages in
// flight at once (writers pipeline on the same channel), each message's
// outcome from the broker's confirm:
//   basic.ack                 -> sent;
//   basic.return (mandatory)  -> rejected with the broker's reason (NO_ROUTE);
//   basic.nack                -> retried;
//   broker unreachable, connection lost before the confirm, no confirm in
//   time -> retried as overload (at least once): after the last attempt
//   the source keeps the message, since an outage is no verdict on it.
// connection.blocked (the broker short of memory or disk) holds publishes
// back until it lifts: backpressure, not loss.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <map>
#include <mutex>
#include <random>

#include "amqp/connection.h"
#include "config/config.h"
#include "connectors/amqp/amqp.h"
#include "connectors/amqp/settings.h"
#include "core/message.h"
#include "logging/log.h"
#include "metrics/metrics.h"
#include "runtime/backoff.h"
#include "runtime/component.h"
#include "template/template.h"

namespace sluice::connectors {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using runtime::WriteOutcome;

// One write() waiting for its confirms.
struct Wait {
  explicit Wait(asio::io_context& io, size_t n) : outcomes(n), remaining(n), done(io, 1) {}
  std::vector<WriteOutcome> outcomes;
  size_t remaining;
  asio::experimental::concurrent_channel<void(error_code)> done;
};

struct Pending {
  std::shared_ptr<Wait> wait;
  size_t index = 0;
  std::string exchange, routing_key;
  size_t body_hash = 0;
  std::optional<std::string> returned;  // why the broker returned it
};

// A connection, its confirm channel and the publishes awaiting a confirm.
struct Link {
  std::shared_ptr<amqp::Connection> connection;
  uint16_t channel = 0;
  std::mutex mu;
  std::map<uint64_t, Pending> pending;  // by publish sequence number
  bool dead = false;

  // Under mu.
  void resolve(Pending& p, WriteOutcome o) {
    p.wait->outcomes[p.index] = std::move(o);
    if (--p.wait->remaining == 0) p.wait->done.try_send(error_code{});
  }
};

class AmqpOutput final : public runtime::Output {
 public:
  AmqpOutput(const config::Values& v, runtime::BuildContext& ctx)
      : io_(ctx.io()),
        clock_(ctx.clock()),
        options_(amqp_settings::connect_options(v, "sluice " + ctx.pipeline() + " amqp output")),
        exchange_(v.str("exchange")),
        routing_key_(v.tmpl("routing_key")),
        persistent_(v.boolean("persistent")),
        mandatory_(v.boolean("mandatory")),
        confirm_timeout_(v.duration("confirm_timeout")),
        max_batch_(static_cast<size_t>(v.integer("max_batch"))) {
    if (v.has("headers")) headers_ = v.tmpl_map("headers");
    for (const char* p : {"content_type", "message_id", "correlation_id", "type", "app_id", "expiration", "reply_to"})
      if (v.has(p)) properties_.emplace_back(p, v.tmpl(p));
    auto& m = ctx.metrics();
    const metrics::Labels labels{{"pipeline", ctx.pipeline()}, {"exchange", exchange_}};
    auto with = [&](std::string k, std::string val) {
      auto l = labels;
      l.emplace_back(std::move(k), std::move(val));
      return l;
    };
    published_ = &m.counter("sluice_amqp_published_total", "Messages published by the amqp output, by the broker's answer.",
                            with("outcome", "confirmed"));
    nacked_ = &m.counter("sluice_amqp_published_total", "", with("outcome", "nacked"));
    returned_ = &m.counter("sluice_amqp_published_total", "", with("outcome", "returned"));
    lost_ = &m.counter("sluice_amqp_published_total", "", with("outcome", "unconfirmed"));
    pending_ = &m.gauge("sluice_amqp_confirms_pending", "Publishes awaiting the broker's confirm.", labels);
    blocked_ = &m.gauge("sluice_amqp_blocked", "1 while the broker blocks this output's publishes (connection.blocked).",
                        labels);
    connected_ = &m.gauge("sluice_amqp_connected", "1 while the connection to the broker is up.",
                          {{"pipeline", ctx.pipeline()}, {"component", "output"}});
    reconnects_ = &m.counter("sluice_amqp_reconnects_total", "Connections to the broker made again after one was lost.",
                             {{"pipeline", ctx.pipeline()}, {"component", "output"}});
  }

  size_t max_batch() const override { return max_batch_; }

  runtime::Task<runtime::BatchOutcome> write(core::Batch& batch) override {
    runtime::BatchOutcome outcome;
    auto link = co_await current_link();
    if (!link) {
      for (size_t i = 0; i < batch.size(); ++i) outcome.set(i, batch.size(), WriteOutcome::overload(link.error().detail));
      co_return outcome;
    }
    auto& conn = *(*link)->connection;
    if (conn.blocked()) {
      blocked_->set(1);
      const auto until = clock_.now_ns() + confirm_timeout_.count();
      while (conn.blocked() && conn.is_open() && clock_.now_ns() < until)
        co_await amqp_settings::pause(clock_, std::chrono::milliseconds(50), [] { return false; });
      blocked_->set(0);
      if (conn.blocked()) {
        const auto why = fmt::format("the broker blocks publishers ({})", conn.blocked_reason());
        for (size_t i = 0; i < batch.size(); ++i) outcome.set(i, batch.size(), WriteOutcome::overload(why));
        co_return outcome;
      }
    }
    // Render first: a message whose template fails is rejected, the rest go.
    struct Ready {
      size_t index;
      std::string routing_key;
      amqp::Properties properties;
    };
    std::vector<Ready> ready;
    for (size_t i = 0; i < batch.size(); ++i) {
      auto r = render(batch.messages[i]);
      if (!r) outcome.set(i, batch.size(), WriteOutcome::reject(r.error().detail));
      else ready.push_back({i, std::move(r->first), std::move(r->second)});
    }
    if (ready.empty()) co_return outcome;
    auto wait = std::make_shared<Wait>(io_, ready.size());
    {
      std::lock_guard lock((*link)->mu);
      if ((*link)->dead) {
        for (auto& r : ready) outcome.set(r.index, batch.size(), WriteOutcome::overload("the connection to the broker was lost"));
        co_return outcome;
      }
      for (size_t k = 0; k < ready.size(); ++k) {
        const auto& body = batch.messages[ready[k].index].payload();
        const uint64_t seq = conn.publish((*link)->channel, exchange_, ready[k].routing_key, mandatory_, ready[k].properties, body);
        if (seq == 0) {  // the connection ended under us
          Pending gone{wait, k};
          (*link)->resolve(gone, WriteOutcome::overload("the connection to the broker was lost"));
          continue;
        }
        (*link)->pending.emplace(seq, Pending{wait, k, exchange_, ready[k].routing_key, std::hash<std::string>{}(body), {}});
      }
      pending_->add(static_cast<int64_t>((*link)->pending.size()) - pending_->value());
    }
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(io_, confirm_timeout_);
    auto result = co_await (wait->done.async_receive(asio::as_tuple(asio::use_awaitable)) ||
                            timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (result.index() == 1) {
      // No confirm in time: the broker may still take them; retrying is at least once.
      std::lock_guard lock((*link)->mu);
      for (auto it = (*link)->pending.begin(); it != (*link)->pending.end();) {
        if (it->second.wait == wait) {
          lost_->inc();
          (*link)->resolve(it->second, WriteOutcome::overload(fmt::format("no confirm from the broker within {} s",
                                                                       std::chrono::duration_cast<std::chrono::seconds>(confirm_timeout_).count())));
          it = (*link)->pending.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (size_t k = 0; k < ready.size(); ++k)
      if (wait->outcomes[k].kind != WriteOutcome::Kind::ok) outcome.set(ready[k].index, batch.size(), std::move(wait->outcomes[k]));
    co_return outcome;
  }

  runtime::Task<void> close() override {
    std::shared_ptr<Link> link;
    {
      std::lock_guard lock(mu_);
      link = link_;
    }
    if (link) co_await link->connection->close();
  }

 private:
  core::Result<std::pair<std::string, amqp::Properties>> render(const core::Message& m) const {
    auto key = routing_key_.render(m);
    if (!key) return std::unexpected(core::Error{core::Errc::missing_field, "routing_key: " + key.error().to_string()});
    amqp::Properties p;
    if (persistent_) p.delivery_mode = 2;
    for (const auto& [name, t] : properties_) {
      auto value = t.render(m);
      if (!value) return std::unexpected(core::Error{core::Errc::missing_field, name + ": " + value.error().to_string()});
      const std::string n = name;
      if (n == "content_type") p.content_type = *value;
      else if (n == "message_id") p.message_id = *value;
      else if (n == "correlation_id") p.correlation_id = *value;
      else if (n == "type") p.type = *value;
      else if (n == "app_id") p.app_id = *value;
      else if (n == "expiration") p.expiration = *value;
      else if (n == "reply_to") p.reply_to = *value;
    }
    for (const auto& [name, t] : headers_) {
      auto value = t.render(m);
      if (!value) return std::unexpected(core::Error{core::Errc::missing_field, "header " + name + ": " + value.error().to_string()});
      p.headers.push_back({name, amqp::Field::of(std::move(*value))});
    }
    return std::pair{std::move(*key), std::move(p)};
  }

  // The live link, or a new one (connect, open a channel, confirm.select).
  runtime::Task<core::Result<std::shared_ptr<Link>>> current_link() {
    {
      std::lock_guard lock(mu_);
      if (link_ && link_->connection->is_open()) co_return link_;
    }
    // One writer connects; the others wait for it.
    while (connecting_.exchange(true)) co_await amqp_settings::pause(clock_, std::chrono::milliseconds(5), [] { return false; });
    std::shared_ptr<Link> fresh;
    core::Error why;
    {
      std::lock_guard lock(mu_);
      if (link_ && link_->connection->is_open()) fresh = link_;
    }
    if (!fresh) {
      const auto since = clock_.now_ns() - last_failure_ns_;
      if (failures_ > 0 && since < retry_after_.count()) {
        why = last_error_;
      } else {
        auto made = co_await connect();
        if (made) {
          if (had_link_) reconnects_->inc();
          had_link_ = true;
          failures_ = 0;
          connected_->set(1);
          std::lock_guard lock(mu_);
          link_ = fresh = *made;
        } else {
          connected_->set(0);
          why = made.error();
          last_error_ = why;
          last_failure_ns_ = clock_.now_ns();
          retry_after_ = runtime::backoff_delay({.initial = std::chrono::milliseconds(100), .max = std::chrono::seconds(5)},
                                                failures_++, {}, rng_);
          logging::warn("amqp output: {}", why.detail);
        }
      }
    }
    connecting_ = false;
    if (!fresh) co_return std::unexpected(why);
    co_return fresh;
  }

  runtime::Task<core::Result<std::shared_ptr<Link>>> connect() {
    auto conn = co_await amqp::Connection::open(io_, options_);
    if (!conn) co_return std::unexpected(conn.error());
    auto link = std::make_shared<Link>();
    link->connection = *conn;
    std::weak_ptr<Link> weak = link;
    amqp::ChannelEvents ev;
    ev.confirm = [this, weak](uint64_t tag, bool multiple, bool ack) {
      if (auto l = weak.lock()) confirmed(*l, tag, multiple, ack);
    };
    ev.returned = [this, weak](amqp::Returned r) {
      if (auto l = weak.lock()) came_back(*l, std::move(r));
    };
    ev.closed = [this, weak](const core::Error& e) {
      if (auto l = weak.lock()) lost(*l, e);
    };
    auto ch = co_await link->connection->open_channel(ev);
    if (!ch) co_return std::unexpected(ch.error());
    link->channel = *ch;
    auto sel = co_await link->connection->confirm_select(*ch);
    if (!sel) co_return std::unexpected(sel.error());
    co_return link;
  }

  void confirmed(Link& l, uint64_t tag, bool multiple, bool ack) {
    std::lock_guard lock(l.mu);
    auto end = l.pending.upper_bound(tag);
    auto it = multiple ? l.pending.begin() : l.pending.find(tag);
    if (it == l.pending.end()) return;
    if (!multiple) end = std::next(it);
    while (it != end) {
      Pending& p = it->second;
      if (p.returned) {
        returned_->inc();
        l.resolve(p, WriteOutcome::reject(*p.returned));
      } else if (ack) {
        published_->inc();
        l.resolve(p, WriteOutcome::ok());
      } else {
        nacked_->inc();
        l.resolve(p, WriteOutcome::retry("the broker nacked the publish (it could not take it)"));
      }
      it = l.pending.erase(it);
    }
    pending_->add(static_cast<int64_t>(l.pending.size()) - pending_->value());
  }

  // A return names no sequence number; the broker sends it before the
  // publish's confirm and in publish order, so it is the oldest pending
  // publish with the same exchange, routing key and body not yet returned.
  void came_back(Link& l, amqp::Returned r) {
    const size_t hash = std::hash<std::string>{}(r.body);
    std::lock_guard lock(l.mu);
    for (auto& [seq, p] : l.pending) {
      if (p.returned || p.exchange != r.exchange || p.routing_key != r.routing_key || p.body_hash != hash) continue;
      p.returned = fmt::format("the broker returned it: {} {} (no queue is bound to exchange '{}' for routing key '{}')",
                               r.code, r.text, r.exchange, r.routing_key);
      return;
    }
  }

  void lost(Link& l, const core::Error& e) {
    std::lock_guard lock(l.mu);
    l.dead = true;
    for (auto& [seq, p] : l.pending) {
      lost_->inc();
      l.resolve(p, WriteOutcome::overload("connection lost before the broker confirmed: " + e.detail));
    }
    l.pending.clear();
    pending_->add(-pending_->value());
    connected_->set(0);
  }

  asio::io_context& io_;
  const core::Clock& clock_;
  amqp::ConnectOptions options_;
  std::string exchange_;
  tmpl::Template routing_key_;
  bool persistent_, mandatory_;
  core::Nanos confirm_timeout_;
  size_t max_batch_;
  config::TemplateMap headers_;
  std::vector<std::pair<std::string, tmpl::Template>> properties_;
  std::mutex mu_;
  std::shared_ptr<Link> link_;
  std::atomic<bool> connecting_{false};
  bool had_link_ = false;
  int failures_ = 0;
  int64_t last_failure_ns_ = 0;
  core::Nanos retry_after_{0};
  core::Error last_error_;
  std::mt19937_64 rng_{std::random_device{}()};
  metrics::Counter *published_, *nacked_, *returned_, *lost_, *reconnects_;
  metrics::Gauge *pending_, *blocked_, *connected_;
};

}  // namespace

config::ComponentSpec amqp_output_spec() {
  using config::Type;
  auto property = [](const char* name, const char* doc) {
    return config::Field{.name = name, .type = Type::tmpl, .doc = doc};
  };
  return {
      .name = "amqp",
      .kind = config::Kind::output,
      .summary = "Publishes to a RabbitMQ (AMQP 0-9-1) exchange with publisher confirms: a message is sent once the "
                 "broker confirmed it; a nack or a connection lost before the confirm retries exactly the "
                 "unconfirmed messages; with `mandatory`, a message no queue takes is rejected with the broker's "
                 "reason. A broker that blocks publishers (memory or disk alarm) holds the writes back.",
      .fields = amqp_settings::with_connection_fields({
          {.name = "exchange", .doc = "The exchange; \"\" is the default exchange (routing key = queue name).",
           .default_value = ""},
          {.name = "routing_key", .type = Type::tmpl, .doc = "The routing key; may use {{fields}}.", .required = true},
          {.name = "persistent", .type = Type::boolean, .doc = "delivery_mode 2: written to disk by durable queues.",
           .default_value = "true"},
          {.name = "mandatory", .type = Type::boolean,
           .doc = "Ask the broker to return a message no queue takes; it is then rejected with the reason.",
           .default_value = "false"},
          {.name = "headers", .type = Type::tmpl_map, .doc = "Message headers; values may use {{fields}}."},
          property("content_type", "content-type property."),
          property("message_id", "message-id property."),
          property("correlation_id", "correlation-id property."),
          property("type", "type property."),
          property("app_id", "app-id property."),
          property("expiration", "Per-message TTL in milliseconds, as text (expiration property)."),
          property("reply_to", "reply-to property."),
          {.name = "confirm_timeout", .type = Type::duration,
           .doc = "How long a write waits for its confirms (or for a blocked broker) before retrying.",
           .default_value = "30s", .min = 0.001},
          {.name = "max_batch", .type = Type::integer, .doc = "Most messages one write publishes.",
           .default_value = "500", .min = 1, .max = 100000},
      }),
      .example = "output:\n  amqp:\n    url: \"amqp://guest:guest@127.0.0.1:5672/\"\n    exchange: amq.topic\n"
                 "    routing_key: \"sms.{{country}}\"\n    mandatory: true",
      .validate = amqp_settings::validate_connection,
      .make_output = runtime::build<AmqpOutput>,
  };
}

}  // namespace sluice::connectors
