#pragma once
// The interfaces connectors and processors implement, and what their
// factories get to build themselves. Asio appears only as awaitable and a
// forward-declared io_context, so this header stays cheap to include.
//
// Acks: an input attaches an AckHandle to every message it returns (or none,
// when it has nothing to acknowledge); the runtime resolves the handles.

#include <boost/asio/awaitable.hpp>

#include <any>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/message.h"

namespace boost::asio {
class io_context;
}
namespace sluice::config {
struct Config;
class Values;
}
namespace sluice::metrics {
class Registry;
}
namespace sluice::ratelimit {
class RateLimit;
}
namespace sluice::net {
class HttpTransport;
struct HttpClientOptions;
}

namespace sluice::runtime {

template <class T>
using Task = boost::asio::awaitable<T>;

// Where a push input puts what arrives (see Input::connect). Threads: any.
class Intake {
 public:
  virtual ~Intake() = default;
  // Takes `m` into the pipeline if there is room for it now. False, leaving
  // `m` untouched, when the pipeline is saturated or stopping: refuse the
  // sender (503) rather than queue without bound.
  virtual bool try_push(core::Message& m) = 0;
};

// Lifecycle, in the order the pipeline calls it:
//   connect() once, at build time: a push input keeps the intake.
//   start()  once, awaited before the first read(): background work such as
//            heartbeats, lease reapers or an ack flusher (AckBatcher::run).
//   read()   by `concurrency` readers at once, until it fails with
//            end_of_input or closed. Never, for a push input.
//   close()  from any thread, on shutdown: a pending read() and every later
//            one end promptly with Errc::closed (cancel long polls).
//   drain()  once, after every output of the pipeline finished and before
//            the io_context stops: flush the last acknowledgements (a final
//            batched delete or multiple-ack). The engine's shutdown deadline
//            bounds it; acks still pending when it is cut off are redelivered.
// Destroyed after the io_context destroyed its pending work, so a message
// nacked by that destruction may still reach the input's ack callback.
class Input {
 public:
  virtual ~Input() = default;
  // A push input (webhooks: messages arrive on their own) hands each arrival
  // straight to the pipeline through `intake`, with no buffer of its own,
  // and returns how many messages may wait in the pipeline for it. A pull
  // input keeps the default, 0, and is read.
  virtual size_t connect(Intake&) { return 0; }
  virtual Task<void> start() { co_return; }
  // The next batch. Errc::end_of_input when a finite input is exhausted,
  // Errc::closed once close() was called; other errors are logged and the
  // read retried after a pause. Push inputs are not read.
  virtual Task<core::Result<core::Batch>> read() { co_return core::fail(core::Errc::closed, "a push input is not read"); }
  virtual void close() = 0;
  virtual Task<void> drain() { co_return; }
};

// A message a processor could not handle, with why.
struct Failure {
  core::Message message;
  core::Error error;
};

class Processor {
 public:
  virtual ~Processor() = default;
  // Transforms `batch` in place. A message filtered out is resolved as
  // delivered; one that fails moves to `failures`.
  virtual Task<void> process(core::Batch& batch, std::vector<Failure>& failures) = 0;
};

// What happened to one message of a write.
struct WriteOutcome {
  enum class Kind { ok, retry, reject };
  Kind kind = Kind::ok;
  std::string reason;
  core::Nanos retry_after{0};  // the peer's hint (Retry-After), 0 if none
  // The peer refused for overload (429, 503, a timeout, a full queue):
  // adaptive concurrency backs off.
  bool overloaded = false;

  static WriteOutcome ok() { return {}; }
  static WriteOutcome retry(std::string why, core::Nanos after = core::Nanos(0)) {
    return {Kind::retry, std::move(why), after};
  }
  static WriteOutcome overload(std::string why, core::Nanos after = core::Nanos(0)) {
    return {Kind::retry, std::move(why), after, true};
  }
  static WriteOutcome reject(std::string why) { return {Kind::reject, std::move(why), core::Nanos(0)}; }
};

// Outcomes of one write: one for the whole batch, or one per message.
class BatchOutcome {
 public:
  BatchOutcome() = default;
  static BatchOutcome all(WriteOutcome o) {
    BatchOutcome b;
    b.uniform_ = std::move(o);
    return b;
  }
  void set(size_t index, size_t batch_size, WriteOutcome o) {
    if (each_.empty()) each_.assign(batch_size, uniform_);
    each_[index] = std::move(o);
  }
  const WriteOutcome& at(size_t index) const { return each_.empty() ? uniform_ : each_[index]; }

 private:
  WriteOutcome uniform_;
  std::vector<WriteOutcome> each_;
};

class Output {
 public:
  virtual ~Output() = default;
  // Writes the batch; returns what happened to each message. Called by up to
  // max_in_flight coroutines at once, from any thread.
  virtual Task<BatchOutcome> write(core::Batch& batch) = 0;
  // Largest batch one write takes (0: any); bigger ones are split first.
  virtual size_t max_batch() const { return 0; }
  // The tokens a message takes from the output's rate limit, when the output
  // knows better than the limit's cost template (e.g. SMS segments).
  virtual std::optional<double> cost(const core::Message&) const { return std::nullopt; }
  // Flushes and releases resources once no more writes will come.
  virtual Task<void> close() { co_return; }
};

// An output that writes one message per request (HTTP APIs): write() sends
// each message of the (single-message) batch through send().
class MessageOutput : public Output {
 public:
  size_t max_batch() const override { return 1; }
  Task<BatchOutcome> write(core::Batch& batch) final {
    BatchOutcome out;
    for (size_t i = 0; i < batch.size(); ++i) {
      WriteOutcome o = co_await send(batch.messages[i]);
      if (o.kind != WriteOutcome::Kind::ok) out.set(i, batch.size(), std::move(o));
    }
    co_return out;
  }

 protected:
  // Sends one message; may set metadata on it (e.g. the peer's id).
  virtual Task<WriteOutcome> send(core::Message& m) = 0;
};

// A shared client built from one entry of `resources` (an HTTP pool, later a
// Redis or AMQP connection): built once, on first use, and shared by every
// component that names it. Lives until the engine releases shared objects.
class Resource {
 public:
  virtual ~Resource() = default;
};

// What a factory may use while building a component.
class BuildContext {
 public:
  BuildContext(boost::asio::io_context& io, const config::Config& config, metrics::Registry& metrics,
               std::function<ratelimit::RateLimit*(const std::string&)> rate_limits,
               const core::Clock& clock = core::SteadyClock::instance());

  boost::asio::io_context& io() { return io_; }
  const config::Config& config() const { return config_; }
  metrics::Registry& metrics() { return metrics_; }
  // What leases, retries, batching periods and rate limits measure time by.
  const core::Clock& clock() const { return clock_; }
  ratelimit::RateLimit* rate_limit(const std::string& name) { return rate_limits_(name); }

  // The HTTP client a component talks through (net::HttpClient unless a
  // test installed a fake with set_http_client_factory).
  using HttpClientFactory = std::function<std::shared_ptr<net::HttpTransport>(const net::HttpClientOptions&)>;
  std::shared_ptr<net::HttpTransport> http_client(const net::HttpClientOptions& options);
  void set_http_client_factory(HttpClientFactory f) { http_factory_ = std::move(f); }

  // The resource resources.<kind>.<name>, built on first use. The loader has
  // checked that it exists; throws std::runtime_error if it does not.
  std::shared_ptr<Resource> resource(const std::string& kind, const std::string& name);
  template <class T>
  std::shared_ptr<T> resource(const std::string& kind, const std::string& name) {
    auto r = std::dynamic_pointer_cast<T>(resource(kind, name));
    if (!r) throw std::runtime_error("resource " + kind + " '" + name + "' is not of the kind its user expects");
    return r;
  }
  const std::string& pipeline() const { return pipeline_; }
  void set_pipeline(std::string name) { pipeline_ = std::move(name); }

  // One object per key shared by every component that asks (e.g. one
  // embedded queue store per data_dir, one client per broker).
  // Recursive lock: building one shared object (a resource) may ask for another.
  template <class T>
  std::shared_ptr<T> shared(const std::string& key, const std::function<std::shared_ptr<T>()>& make) {
    std::lock_guard lock(mu_);
    auto& slot = shared_[key];
    if (!slot.has_value()) slot = make();
    return std::any_cast<std::shared_ptr<T>>(slot);
  }
  // Drops the shared objects (after every component is gone).
  void release_shared() {
    std::map<std::string, std::any> gone;
    {
      std::lock_guard lock(mu_);
      gone.swap(shared_);
    }
  }

 private:
  boost::asio::io_context& io_;
  const config::Config& config_;
  metrics::Registry& metrics_;
  std::function<ratelimit::RateLimit*(const std::string&)> rate_limits_;
  const core::Clock& clock_;
  HttpClientFactory http_factory_;
  std::string pipeline_;
  std::recursive_mutex mu_;
  std::map<std::string, std::any> shared_;
};

// A spec's factory when the component is built from its values (and the
// context, if its constructor takes it): `.make_input = build<HttpServerInput>`.
template <class T>
std::unique_ptr<T> build(const config::Values& v, BuildContext& ctx) {
  if constexpr (std::is_constructible_v<T, const config::Values&, BuildContext&>)
    return std::make_unique<T>(v, ctx);
  else
    return std::make_unique<T>(v);
}

}  // namespace sluice::runtime
