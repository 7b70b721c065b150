#include "connectors/queue/queue.h"

#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include "config/config.h"
#include "logging/log.h"
#include "connectors/queue/store.h"
#include "metrics/metrics.h"
#include "runtime/ack_batcher.h"
#include "runtime/component.h"
#include "async/spawn.h"

namespace sluice::connectors {

std::shared_ptr<queue::Store> shared_queue_store(runtime::BuildContext& ctx) {
  const std::string& dir = ctx.config().data_dir;
  return ctx.shared<queue::Store>("queue.store:" + dir, [&dir, &ctx] { return std::make_shared<queue::Store>(dir, ctx.clock()); });
}

namespace {

using queue::Store;

void export_depth(runtime::BuildContext& ctx, const std::shared_ptr<Store>& store, const std::string& name) {
  std::weak_ptr<Store> weak = store;
  for (const std::string& q : {name, name + ".dead"}) {
    ctx.metrics().gauge_fn("sluice_queue_depth", "Messages in an embedded queue not yet acknowledged.",
                           {{"queue", q}}, [weak, q] {
                             auto s = weak.lock();
                             return s ? static_cast<double>(s->depth(q)) : 0.0;
                           });
  }
}

config::Field name_field() { return {.name = "name", .doc = "Queue name.", .required = true}; }

// Acks go through an AckBatcher: the store commits each flush's deletes in
// one transaction, and drain() hands over the last ones before the engine
// stops.
class QueueInput final : public runtime::Input {
 public:
  QueueInput(boost::asio::io_context& io, std::shared_ptr<Store> store, std::string name,
             queue::DequeueOptions options)
      : store_(std::move(store)),
        name_(std::move(name)),
        options_(options),
        acks_(io, kAckBatch, kAckAge, [this](Acks::Groups g) { return settle(std::move(g)); }) {}
  ~QueueInput() override { settle_now(acks_.take()); }  // nacks from the engine's teardown

  runtime::Task<void> start() override {
    auto ex = co_await boost::asio::this_coro::executor;
    async::spawn(ex, [this] { return acks_.run(); });
  }
  runtime::Task<core::Result<core::Batch>> read() override {
    if (closed_) co_return core::fail(core::Errc::closed);
    Store::AckFor ack_for = [this](int64_t id) { return acks_.handle(id); };
    core::Batch b = co_await store_->dequeue(name_, options_, std::move(ack_for));
    if (b.empty()) co_return core::fail(core::Errc::closed);
    co_return b;
  }
  void close() override {
    closed_ = true;
    store_->close_readers(name_);
  }
  runtime::Task<void> drain() override { co_await acks_.drain(); }

 private:
  using Acks = runtime::AckBatcher<int64_t>;
  static constexpr size_t kAckBatch = 1000;
  static constexpr core::Nanos kAckAge = std::chrono::milliseconds(2);

  runtime::Task<void> settle(Acks::Groups g) {
    settle_now(std::move(g));
    co_return;
  }
  void settle_now(Acks::Groups g) {
    logging::debug("queue '{}': acks: {} delivered (deleted), {} errored (delivered again), {} rejected (to {}.dead)",
                   name_, g.delivered.size(), g.errored.size(), g.rejected.size(), name_);
    store_->settle(name_, g.delivered, core::AckStatus::delivered);
    store_->settle(name_, g.errored, core::AckStatus::errored);
    store_->settle(name_, g.rejected, core::AckStatus::rejected);
  }

  std::shared_ptr<Store> store_;
  std::string name_;
  queue::DequeueOptions options_;
  std::atomic<bool> closed_{false};
  Acks acks_;
};

class QueueOutput final : public runtime::Output {
  static constexpr core::Nanos kFullDiskPause = std::chrono::milliseconds(200);

 public:
  QueueOutput(std::shared_ptr<Store> store, std::string name) : store_(std::move(store)), name_(std::move(name)) {}

  runtime::Task<runtime::BatchOutcome> write(core::Batch& batch) override {
    auto r = co_await store_->enqueue(name_, batch);
    if (!r && r.error().is(core::Errc::storage_full))  // ours, not the message's: its source keeps it
      co_return runtime::BatchOutcome::all(runtime::WriteOutcome::overload(r.error().to_string(), kFullDiskPause));
    if (!r) co_return runtime::BatchOutcome::all(runtime::WriteOutcome::retry(r.error().to_string()));
    co_return runtime::BatchOutcome{};
  }

 private:
  std::shared_ptr<Store> store_;
  std::string name_;
};

std::shared_ptr<Store> open_store(const config::Values& v, runtime::BuildContext& ctx) {
  try {
    auto store = shared_queue_store(ctx);
    export_depth(ctx, store, v.str("name"));
    return store;
  } catch (const std::runtime_error& e) {
    throw v.error("name", fmt::format("embedded queue: {}", e.what()));
  }
}

}  // namespace

config::ComponentSpec queue_input_spec() {
  using config::Type;
  return {
      .name = "queue",
      .kind = config::Kind::input,
      .summary = "Reads from the embedded durable queue in data_dir (SQLite, WAL). Messages are leased; an ack "
                 "deletes them, a nack or an expired lease delivers them again, and after max_deliveries failed "
                 "deliveries they move to the queue `<name>.dead`. Metadata `delivery_count` says which delivery "
                 "this is. The input never ends by itself.",
      .fields = {name_field(),
                 {.name = "batch_size", .type = Type::integer, .doc = "Most messages per read.",
                  .default_value = "100", .min = 1, .max = 10000},
                 {.name = "visibility_timeout", .type = Type::duration,
                  .doc = "How long a delivery may take before the message is delivered again.",
                  .default_value = "5m", .min = 0.001},
                 {.name = "max_deliveries", .type = Type::integer,
                  .doc = "Failed deliveries before a message moves to `<name>.dead`; 0 for no limit.",
                  .default_value = "10", .min = 0}},
      .example = "input:\n  queue: {name: outbound}",
      .make_input = [](const config::Values& v, runtime::BuildContext& ctx) -> std::unique_ptr<runtime::Input> {
        queue::DequeueOptions o;
        o.max = static_cast<size_t>(v.integer("batch_size"));
        o.visibility_timeout = v.duration("visibility_timeout");
        o.max_deliveries = v.integer("max_deliveries");
        return std::make_unique<QueueInput>(ctx.io(), open_store(v, ctx), v.str("name"), o);
      },
  };
}

config::ComponentSpec queue_output_spec() {
  return {
      .name = "queue",
      .kind = config::Kind::output,
      .summary = "Appends to the embedded durable queue in data_dir. A write is confirmed only once it is "
                 "committed and fsync'd; concurrent writes share one commit (group commit).",
      .fields = {name_field()},
      .example = "output:\n  queue: {name: outbound}",
      .make_output = [](const config::Values& v, runtime::BuildContext& ctx) -> std::unique_ptr<runtime::Output> {
        return std::make_unique<QueueOutput>(open_store(v, ctx), v.str("name"));
      },
  };
}

}  // namespace sluice::connectors
