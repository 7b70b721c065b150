// The redis_streams input: a consumer in a consumer group (created if
// missing). An entry read is in the group's pending entries list (PEL)
// until acknowledged, so a crash loses nothing:
//   delivered -> XACK, batched (one XACK for many entries);
//   errored   -> left pending: reclaimed once idle past `claim_after`, by
//                this consumer or any other (XPENDING + XCLAIM);
//   rejected  -> copied to the dead-letter stream and XACKed, in one MULTI;
// and an entry claimed more than `max_deliveries` times (the PEL's delivery
// count) goes to the dead-letter stream instead of round again. At start a
// consumer first reads its own PEL (what it had in flight when it stopped).
#include <boost/asio/this_coro.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <map>

#include "async/spawn.h"
#include "config/config.h"
#include "connectors/redis/redis.h"
#include "connectors/redis/reliable_list.h"
#include "connectors/redis/settings.h"
#include "core/message.h"
#include "logging/log.h"
#include "metrics/metrics.h"
#include "redis/client.h"
#include "runtime/ack_batcher.h"
#include "runtime/build_context.h"
#include "runtime/component.h"

namespace sluice::connectors {
namespace {

namespace asio = boost::asio;

struct Entry {
  std::string id;
  std::vector<std::string> fields;  // name, value, name, value, ...; empty: deleted (XDEL) while pending
};

// [[id, [f, v, ...] or nil], ...], as XREADGROUP's per-stream part and XCLAIM answer.
std::vector<Entry> entries_of(const redis::Reply& list) {
  std::vector<Entry> out;
  for (const auto& e : list.elements) {
    if (e.elements.size() != 2) continue;
    Entry entry{e.elements[0].text, {}};
    for (const auto& f : e.elements[1].elements) entry.fields.push_back(f.text);
    out.push_back(std::move(entry));
  }
  return out;
}

std::string ms_text(core::Nanos d) { return std::to_string(std::max<int64_t>(1, d / std::chrono::milliseconds(1))); }

class RedisStreamsInput final : public runtime::Input {
 public:
  RedisStreamsInput(const config::Values& v, runtime::BuildContext& ctx)
      : client_(redis_settings::client_for(v, ctx)),
        stream_(v.str("stream")),
        group_(v.str("group")),
        consumer_(v.has("consumer") ? v.str("consumer") : default_consumer()),
        dead_stream_(v.has("dead_letter_stream") ? v.str("dead_letter_stream") : stream_ + ":dead"),
        body_key_(v.str("body_key")),
        start_(v.str("start") == "oldest" ? "0" : "$"),
        wait_(v.duration("wait_time")),
        claim_after_(v.duration("claim_after")),
        batch_(static_cast<size_t>(v.integer("batch_size"))),
        max_deliveries_(v.integer("max_deliveries")),
        clock_(ctx.clock()),
        acks_(ctx.io(), 1000, std::chrono::milliseconds(20), [this](Acks::Groups g) { return settle(std::move(g)); }) {
    const metrics::Labels l = {{"pipeline", ctx.pipeline()}, {"stream", stream_}};
    received_ = &ctx.metrics().counter("sluice_redis_streams_received_total", "Entries read from the stream.", l);
    recovered_ = &ctx.metrics().counter("sluice_redis_streams_recovered_total",
                                        "Entries a restarted consumer found pending for itself and delivered again.", l);
    claimed_ = &ctx.metrics().counter("sluice_redis_streams_claimed_total",
                                      "Entries claimed from consumers that left them pending past claim_after.", l);
    dead_ = &ctx.metrics().counter("sluice_redis_streams_dead_lettered_total",
                                   "Entries copied to the dead-letter stream (rejected, or past max_deliveries).", l);
  }

  runtime::Task<void> start() override {
    co_await ensure_group();
    async::spawn(co_await asio::this_coro::executor, [this] { return acks_.run(); });
  }

  runtime::Task<core::Result<core::Batch>> read() override {
    for (;;) {
      if (closed_) co_return core::fail(core::Errc::closed);
      if (!group_ready_) {
        const bool made = co_await ensure_group();
        if (!made) co_return core::fail(core::Errc::unavailable, group_error_);
      }
      if (clock_.now_ns() >= next_claim_ns_) {
        auto claimed = co_await claim();
        if (!claimed) co_return std::unexpected(claimed.error());
        if (!claimed->empty()) co_return to_batch(std::move(*claimed));
      }
      auto read = co_await read_group();
      if (!read) {
        if (closed_) co_return core::fail(core::Errc::closed);
        co_return std::unexpected(read.error());  // logged; the pipeline reads again after a pause
      }
      if (!read->empty()) co_return to_batch(std::move(*read));
    }
  }

  void close() override { closed_ = true; }
  runtime::Task<void> drain() override { co_await acks_.drain(); }

 private:
  using Acks = runtime::AckBatcher<std::string>;  // the entry's id

  // XGROUP CREATE ... MKSTREAM; BUSYGROUP (it exists) is fine.
  runtime::Task<bool> ensure_group() {
    redis::Command create{"XGROUP", "CREATE", stream_, group_, start_, "MKSTREAM"};
    auto r = co_await client_->command(std::move(create));
    group_ready_ = r && (!r->is_error() || r->text.starts_with("BUSYGROUP"));
    if (!group_ready_)
      group_error_ = fmt::format("cannot create the consumer group {} on {}: {}", group_, stream_,
                                 r ? r->text : r.error().to_string());
    co_return group_ready_;
  }

  // This consumer's own pending entries first (a restart's in flight), paged
  // by id; then new ones (">"), blocking up to wait_time.
  runtime::Task<core::Result<std::vector<Entry>>> read_group() {
    const bool own = cursor_ != ">";
    redis::Command xread{"XREADGROUP", "GROUP", group_, consumer_, "COUNT", std::to_string(batch_)};
    if (!own) {
      xread.push_back("BLOCK");
      xread.push_back(ms_text(wait_));
    }
    xread.push_back("STREAMS");
    xread.push_back(stream_);
    xread.push_back(cursor_);
    auto r = co_await client_->command(std::move(xread), own ? core::Nanos(0) : wait_);
    if (!r) co_return std::unexpected(r.error());
    if (r->is_error()) {
      if (r->text.starts_with("NOGROUP")) group_ready_ = false;  // the stream or group was deleted: create again
      co_return core::fail(core::Errc::io_error, "Redis refused XREADGROUP: " + r->text);
    }
    std::vector<Entry> entries;
    if (!r->is_null() && !r->elements.empty() && r->elements[0].elements.size() == 2)
      entries = entries_of(r->elements[0].elements[1]);
    if (own) {
      if (entries.empty()) {
        cursor_ = ">";
      } else {
        cursor_ = entries.back().id;
        recovered_->inc(entries.size());
        logging::info("redis_streams {}: {} entr(ies) this consumer had pending put through again", stream_,
                      entries.size());
      }
    }
    co_return co_await without_deleted(std::move(entries));
  }

  // Entries pending past claim_after, from any consumer: claimed (XCLAIM
  // checks the idle time again, so two claimers never both get one), then
  // delivered, or dead-lettered once claimed more than max_deliveries times.
  runtime::Task<core::Result<std::vector<Entry>>> claim() {
    next_claim_ns_ = clock_.now_ns() + std::clamp<int64_t>((claim_after_ / 2).count(), 100'000'000, 5'000'000'000);
    const std::string idle = ms_text(claim_after_);
    redis::Command pending{"XPENDING", stream_, group_, "IDLE", idle, "-", "+", std::to_string(batch_)};
    auto p = co_await client_->command(std::move(pending));
    if (!p) co_return std::unexpected(p.error());
    if (p->is_error() || p->elements.empty()) co_return std::vector<Entry>{};
    std::map<std::string, int64_t> deliveries;
    redis::Command xclaim{"XCLAIM", stream_, group_, consumer_, idle};
    for (const auto& e : p->elements) {
      if (e.elements.size() != 4) continue;
      deliveries[e.elements[0].text] = e.elements[3].integer + 1;  // XCLAIM counts one more
      xclaim.push_back(e.elements[0].text);
    }
    auto c = co_await client_->command(std::move(xclaim));
    if (!c) co_return std::unexpected(c.error());
    if (c->is_error()) co_return std::vector<Entry>{};
    std::vector<Entry> deliver, too_often;
    for (auto& e : entries_of(*c)) (deliveries[e.id] > max_deliveries_ ? too_often : deliver).push_back(std::move(e));
    claimed_->inc(deliver.size());
    if (!too_often.empty()) {
      logging::limited(logging::Level::warn, "redis-streams-dead:" + stream_,
                       fmt::format("redis_streams {}: {} entr(ies) delivered more than {} times go to {}", stream_,
                                   too_often.size(), max_deliveries_, dead_stream_));
      std::vector<redis::Command> commands;
      for (const auto& e : too_often)
        dead_letter(commands, e, fmt::format("delivered {} times (max_deliveries {})", deliveries[e.id], max_deliveries_));
      co_await settle_patiently(*client_, std::move(commands), closed_, clock_, "redis_streams " + stream_);
    }
    co_return co_await without_deleted(std::move(deliver));
  }

  // Entries deleted (XDEL) while pending have no fields: acknowledged, not delivered.
  runtime::Task<std::vector<Entry>> without_deleted(std::vector<Entry> entries) {
    redis::Command xack{"XACK", stream_, group_};
    std::erase_if(entries, [&](const Entry& e) {
      if (!e.fields.empty()) return false;
      xack.push_back(e.id);
      return true;
    });
    if (xack.size() > 3) {
      std::vector<redis::Command> commands{std::move(xack)};
      co_await settle_patiently(*client_, std::move(commands), closed_, clock_, "redis_streams " + stream_);
    }
    co_return entries;
  }

  core::Batch to_batch(std::vector<Entry> entries) {
    core::Batch b;
    for (auto& e : entries) {
      core::Message m(body_of(e));
      auto& meta = m.meta();
      meta.set("redis_stream", stream_);
      meta.set("redis_stream_id", e.id);
      for (size_t i = 0; i + 1 < e.fields.size(); i += 2)
        if (e.fields[i] != body_key_) meta.set(e.fields[i], e.fields[i + 1]);
      m.set_ack(acks_.handle(std::move(e.id)));
      b.messages.push_back(std::move(m));
    }
    received_->inc(b.size());
    return b;
  }

  // The body_key field's value; without one, all fields as a JSON object.
  std::string body_of(const Entry& e) const {
    for (size_t i = 0; i + 1 < e.fields.size(); i += 2)
      if (e.fields[i] == body_key_) return e.fields[i + 1];
    boost::json::object o;
    for (size_t i = 0; i + 1 < e.fields.size(); i += 2) o[e.fields[i]] = e.fields[i + 1];
    return boost::json::serialize(o);
  }

  // The entry's fields, and where it came from, onto the dead-letter
  // stream, atomically with its XACK.
  void dead_letter(std::vector<redis::Command>& commands, const Entry& e, const std::string& why) {
    redis::Command xadd{"XADD", dead_stream_, "*"};
    for (const auto& f : e.fields) xadd.push_back(f);
    for (const std::string& f : {std::string("sluice_stream"), stream_, std::string("sluice_id"), e.id,
                                 std::string("sluice_reason"), why})
      xadd.push_back(f);
    commands.push_back({"MULTI"});
    commands.push_back(std::move(xadd));
    commands.push_back({"XACK", stream_, group_, e.id});
    commands.push_back({"EXEC"});
    dead_->inc();
  }

  // Delivered: one XACK. Errored: left pending, for claim_after. Rejected:
  // fetched (XRANGE) and dead-lettered.
  runtime::Task<void> settle(Acks::Groups g) {
    std::vector<redis::Command> commands;
    if (!g.delivered.empty()) {
      redis::Command xack{"XACK", stream_, group_};
      for (auto& id : g.delivered) xack.push_back(std::move(id));
      commands.push_back(std::move(xack));
    }
    if (!g.rejected.empty()) {
      std::vector<redis::Command> ranges;
      for (const auto& id : g.rejected) ranges.push_back({"XRANGE", stream_, id, id});
      auto r = co_await client_->pipeline(std::move(ranges));
      // Not fetched: the entries stay pending and come back past claim_after.
      if (r)
        for (size_t i = 0; i < r->size(); ++i) {
          auto found = entries_of((*r)[i]);
          if (found.empty()) commands.push_back({"XACK", stream_, group_, g.rejected[i]});  // deleted meanwhile
          else dead_letter(commands, found.front(), "rejected by the pipeline");
        }
    }
    co_await settle_patiently(*client_, std::move(commands), closed_, clock_, "redis_streams " + stream_);
  }

  std::shared_ptr<redis::Client> client_;
  std::string stream_, group_, consumer_, dead_stream_, body_key_, start_;
  core::Nanos wait_, claim_after_;
  size_t batch_;
  int64_t max_deliveries_;
  const core::Clock& clock_;
  std::string cursor_ = "0";  // "0": this consumer's own pending entries; then ">"
  bool group_ready_ = false;
  std::string group_error_;
  int64_t next_claim_ns_ = 0;
  std::atomic<bool> closed_{false};
  metrics::Counter *received_, *recovered_, *claimed_, *dead_;
  Acks acks_;
};

}  // namespace

config::ComponentSpec redis_streams_input_spec() {
  using config::Type;
  return {
      .name = "redis_streams",
      .kind = config::Kind::input,
      .summary = "Reads a Redis stream as a consumer of a consumer group (created if missing). Entries are "
                 "XACKed in batches once delivered; an errored entry stays pending and is claimed again once idle "
                 "past claim_after, by any consumer; a rejected one, or one claimed more than max_deliveries "
                 "times, is copied to the dead-letter stream. A restarted consumer first reads what it had "
                 "pending. Body: the `body_key` field (else all fields as JSON); the other fields are metadata, "
                 "with redis_stream and redis_stream_id.",
      .fields = redis_settings::with_connection_fields(
          {{.name = "stream", .doc = "The stream.", .required = true},
           {.name = "group", .doc = "The consumer group.", .default_value = "sluice"},
           {.name = "consumer",
            .doc = "This consumer's name in the group, stable across restarts so that a restarted consumer reads "
                   "what it had pending; default the host name."},
           {.name = "start", .doc = "Where a new group starts: oldest (the whole stream) or newest.",
            .default_value = "oldest", .choices = {"oldest", "newest"}},
           {.name = "body_key", .doc = "The field that holds the message.", .default_value = "body"},
           {.name = "dead_letter_stream", .doc = "Where dead letters go; default <stream>:dead."},
           {.name = "claim_after", .type = Type::duration,
            .doc = "An entry pending this long (its consumer failed or died) is claimed and delivered again.",
            .default_value = "30s", .min = 0.01, .max = 86400},
           {.name = "max_deliveries", .type = Type::integer,
            .doc = "Deliveries (from the pending list's count) after which a claimed entry is dead-lettered.",
            .default_value = "5", .min = 1, .max = 1000000},
           {.name = "wait_time", .type = Type::duration,
            .doc = "How long a read blocks for new entries (close() waits at most this).", .default_value = "500ms",
            .min = 0.01, .max = 30},
           {.name = "batch_size", .type = Type::integer, .doc = "Entries per read.", .default_value = "100",
            .min = 1, .max = 10000}}),
      .example = "input:\n  redis_streams: {url: \"redis://127.0.0.1:6379\", stream: events, group: billing}",
      .validate = redis_settings::validate_connection,
      .make_input = runtime::build<RedisStreamsInput>,
  };
}

}  // namespace sluice::connectors
