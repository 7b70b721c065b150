#include "runtime/pipeline.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <mutex>
#include <optional>

#include "logging/log.h"
#include "metrics/metrics.h"
#include "runtime/channel.h"
#include "runtime/output_stage.h"
#include "async/spawn.h"

namespace sluice::runtime {

namespace asio = boost::asio;
using asio::use_awaitable;

namespace {

// Counts what the pipeline has read and not yet resolved, and reports each
// message's end-to-end latency and final status.
class Tracker final : public core::AckObserver {
 public:
  Tracker(metrics::Registry& m, const std::string& pipeline) {
    const metrics::Labels l = {{"pipeline", pipeline}};
    in_flight_ = &m.gauge("sluice_pipeline_in_flight", "Messages read and not yet acknowledged.", l);
    acked_ = &m.counter("sluice_pipeline_acked_total", "Source acknowledgements: delivered.", l);
    nacked_ = &m.counter("sluice_pipeline_nacked_total", "Source negative acknowledgements: errored or rejected.", l);
    latency_ = &m.histogram("sluice_pipeline_latency_seconds", "From read to acknowledgement.", l,
                            metrics::latency_buckets());
  }
  void on_created(uint64_t n) override { in_flight_->add(static_cast<int64_t>(n)); }
  void on_finished(core::AckStatus status, int64_t created_ns, uint64_t n) override {
    in_flight_->add(-static_cast<int64_t>(n));
    (status == core::AckStatus::delivered ? acked_ : nacked_)->inc(n);
    const double seconds = static_cast<double>(core::SteadyClock::instance().now_ns() - created_ns) / 1e9;
    latency_->observe(seconds, n);
  }
  int64_t in_flight() const { return in_flight_->value(); }
  uint64_t acked() const { return acked_->value(); }
  uint64_t nacked() const { return nacked_->value(); }

 private:
  metrics::Gauge* in_flight_;
  metrics::Counter *acked_, *nacked_;
  metrics::Histogram* latency_;
};

std::string component_label(const std::string& type, std::vector<std::string>& used) {
  int n = static_cast<int>(std::count(used.begin(), used.end(), type));
  used.push_back(type);
  return n == 0 ? type : fmt::format("{}#{}", type, n + 1);
}

}  // namespace

// A pipeline is input -> processors -> outputs. What enters goes into the
// processors' channel, where `workers` coroutines process it and push it
// to every output; a pass-through pipeline (no processors, one output)
// skips that hop and feeds the output's own channel. A pull input is read
// by `concurrency` readers; a push input hands each message in through the
// intake, so a webhook is in the output's channel as soon as it is checked.
struct Pipeline::Impl : std::enable_shared_from_this<Impl>, Intake {
  Impl(const config::PipelineConfig& c, BuildContext& ctx, int threads)
      : cfg(c), io(ctx.io()), pass_through(c.processors.empty() && c.outputs.size() == 1) {
    ctx.set_pipeline(c.name);
    auto& m = ctx.metrics();
    tracker = std::make_shared<Tracker>(m, c.name);
    input = c.input.component.spec->make_input(c.input.component.values, ctx);
    const size_t push_capacity = input->connect(*this);
    pushed = push_capacity > 0;
    const metrics::Labels il = {{"pipeline", c.name}, {"component", c.input.component.spec->name}};
    received = &m.counter("sluice_input_received_total",
                          "Messages read from the input (or pushed by it, including those refused when full).", il);
    for (const auto& p : c.processors) processors.push_back(p.spec->make_processor(p.values, ctx));
    processing_errors = &m.counter("sluice_processor_errors_total", "Messages a processor failed.",
                                   {{"pipeline", c.name}});
    std::vector<std::string> used;
    for (const auto& o : c.outputs) {
      outputs.push_back(std::make_unique<OutputStage>(
          o, ctx, StageLabels{c.name, component_label(o.component.spec->name, used)},
          pass_through ? push_capacity : 0));
    }
    if (!pass_through) {
      workers = c.processor_workers > 0 ? static_cast<int>(c.processor_workers) : std::max(threads, 1);
      const auto room = std::max<size_t>(push_capacity, static_cast<size_t>(std::max<int64_t>(2 * workers, c.input.concurrency)));
      to_processors.emplace(ctx.io(), room);
    }
  }

  const config::PipelineConfig& cfg;
  asio::io_context& io;
  const bool pass_through;
  bool pushed = false;  // a push input, fed through try_push
  int workers = 0;
  std::optional<BatchChannel> to_processors;  // unless pass_through
  std::shared_ptr<Tracker> tracker;
  std::unique_ptr<Input> input;
  std::vector<std::unique_ptr<Processor>> processors;
  std::vector<std::unique_ptr<OutputStage>> outputs;
  metrics::Counter* received;
  metrics::Counter* processing_errors;

  std::atomic<int> readers_left{0};
  std::atomic<int> workers_left{0};
  std::atomic<int> outputs_left{0};
  std::atomic<bool> stopping{false};
  std::atomic<int> state{0};  // 0 built, 1 running, 2 draining, 3 done
  std::function<void()> on_done;
  // Push input: nothing is taken once the intake closed, so nothing lands
  // behind the end markers.
  std::mutex intake_mu;
  bool intake_closed = false;

  bool try_push(core::Message& m) override {
    std::lock_guard lock(intake_mu);
    if (intake_closed || state.load() != 1) return false;
    core::Batch one;
    one.messages.push_back(std::move(m));
    track(one);
    received->inc();
    // try_send leaves its argument alone when the channel is full.
    const bool taken = pass_through ? outputs.front()->try_push(one)
                                    : to_processors->try_send(boost::system::error_code{}, std::move(one));
    if (!taken) m = std::move(one.messages.front());
    return taken;
  }

  // Hands a batch read from the input on; false if the pipeline is gone.
  Task<bool> enter(core::Batch batch) {
    if (pass_through) {
      co_await outputs.front()->push(std::move(batch));
      co_return true;
    }
    auto [ec] = co_await to_processors->async_send({}, std::move(batch), asio::as_tuple(use_awaitable));
    co_return !ec;
  }

  // No more input: what entered drains through, then every output finishes.
  Task<void> input_ended() {
    state = 2;
    if (pass_through) {
      co_await outputs.front()->finish();
      co_return;
    }
    for (int i = 0; i < workers; ++i) co_await to_processors->async_send({}, core::Batch{}, use_awaitable);
  }

  void close_intake() {
    {
      std::lock_guard lock(intake_mu);
      if (intake_closed || state.load() != 1) return;
      intake_closed = true;
    }
    async::spawn(io, [self = shared_from_this()] { return self->input_ended(); });
  }

  Task<void> reader() {
    asio::steady_timer pause(io);
    for (;;) {
      auto r = co_await input->read();
      if (!r) {
        if (r.error().is(core::Errc::end_of_input) || r.error().is(core::Errc::closed)) break;
        logging::limited(logging::Level::error, cfg.name + "/input",
                         fmt::format("pipeline '{}': input read failed: {}", cfg.name, r.error().to_string()));
        if (stopping) break;
        pause.expires_after(std::chrono::seconds(1));
        co_await pause.async_wait(asio::as_tuple(use_awaitable));
        continue;
      }
      if (r->empty()) continue;
      track(*r);
      received->inc(r->size());
      if (!co_await enter(std::move(*r))) break;
    }
    if (--readers_left == 0) co_await input_ended();
  }

  // Every message gets an ack state the tracker observes; messages from an
  // input with nothing to acknowledge share one per batch.
  void track(core::Batch& batch) {
    core::AckHandle shared;
    for (auto& m : batch.messages) {
      if (!m.ack()) {
        if (!shared) {
          shared = core::AckHandle::make();
          shared.state()->observe(tracker, batch.size());
        }
        m.set_ack(shared);
      } else if (!m.ack().state()->observed()) {
        m.ack().state()->observe(tracker);
      }
    }
    if (shared) shared.resolve(core::AckStatus::delivered);  // the batch's own holder
  }

  Task<void> worker() {
    for (;;) {
      auto [ec, batch] = co_await to_processors->async_receive(asio::as_tuple(use_awaitable));
      if (ec || batch.empty()) break;
      std::vector<Failure> failures;
      for (auto& p : processors) {
        co_await p->process(batch, failures);
        if (batch.empty()) break;
      }
      if (!failures.empty()) co_await handle_failures(std::move(failures));
      if (batch.empty()) continue;
      for (size_t i = 1; i < outputs.size(); ++i) {
        core::Batch copy = batch;  // a new ack holder per output; named: see async/blocking.h
        co_await outputs[i]->push(std::move(copy));
      }
      co_await outputs.front()->push(std::move(batch));
    }
    if (--workers_left == 0) {
      for (auto& o : outputs) co_await o->finish();
    }
  }

  Task<void> handle_failures(std::vector<Failure> failures) {
    processing_errors->inc(failures.size());
    logging::limited(logging::Level::error, cfg.name + "/processors",
                     fmt::format("pipeline '{}': {} message(s) failed processing: {}", cfg.name, failures.size(),
                                 failures.front().error.to_string()));
    // Processing failures share the first output's dead letter.
    OutputStage& first = *outputs.front();
    if (!first.has_dead_letter()) {
      for (auto& f : failures) f.message.ack().resolve(core::AckStatus::rejected);
      co_return;
    }
    core::Batch dl;
    for (auto& f : failures) {
      f.message.meta().set("error", f.error.to_string());
      f.message.meta().set("error_pipeline", cfg.name);
      f.message.meta().set("error_output", "processors");
      dl.messages.push_back(std::move(f.message));
    }
    co_await first.deliver_dead_letter(std::move(dl));
  }

  // Every output finished: the input flushes its last acks, then the
  // pipeline is done.
  void output_done() {
    if (--outputs_left == 0) async::spawn(io, [self = shared_from_this()] { return self->drain(); });
  }

  Task<void> drain() {
    co_await input->drain();
    state = 3;
    if (on_done) on_done();
  }

  Task<void> start_input() {
    co_await input->start();
    if (pushed) co_return;
    readers_left = static_cast<int>(cfg.input.concurrency);
    for (int64_t i = 0; i < cfg.input.concurrency; ++i)
      async::spawn(io, [self = shared_from_this()] { return self->reader(); });
  }
};

Pipeline::Pipeline(const config::PipelineConfig& cfg, BuildContext& ctx, int threads)
    : impl_(std::make_shared<Impl>(cfg, ctx, threads)) {}

Pipeline::~Pipeline() = default;

const std::string& Pipeline::name() const { return impl_->cfg.name; }

void Pipeline::start(std::function<void()> on_done) {
  auto& s = *impl_;
  s.on_done = std::move(on_done);
  s.state = 1;
  s.outputs_left = static_cast<int>(s.outputs.size());
  // Weak: the pipeline owns its stages, so a strong reference would be a cycle.
  std::weak_ptr<Impl> weak = impl_;
  for (auto& o : s.outputs) {
    o->start([weak] {
      if (auto self = weak.lock()) self->output_done();
    });
  }
  s.workers_left = s.workers;
  for (int i = 0; i < s.workers; ++i) async::spawn(s.io, [self = impl_] { return self->worker(); });
  async::spawn(s.io, [self = impl_] { return self->start_input(); });
}

void Pipeline::stop() {
  impl_->stopping = true;
  impl_->input->close();
  if (impl_->pushed) impl_->close_intake();
}

boost::json::object Pipeline::status() const {
  const auto& s = *impl_;
  static const char* names[] = {"built", "running", "draining", "done"};
  boost::json::object o;
  o["name"] = s.cfg.name;
  o["state"] = names[s.state.load()];
  o["input"] = s.cfg.input.component.spec->name;
  boost::json::array procs;
  for (const auto& p : s.cfg.processors) procs.push_back(boost::json::string(p.spec->name));
  o["processors"] = std::move(procs);
  boost::json::array outs;
  for (const auto& out : s.outputs) outs.push_back(boost::json::string(out->labels().component));
  o["outputs"] = std::move(outs);
  o["received"] = s.received->value();
  o["acked"] = s.tracker->acked();
  o["nacked"] = s.tracker->nacked();
  o["in_flight"] = s.tracker->in_flight();
  return o;
}

}  // namespace sluice::runtime
