#pragma once
// The interfaces connectors and processors implement: Input (and the Intake
// a push input feeds), Processor, Output. What their factories get to build
// themselves is in build_context.h. Asio appears only as awaitable, so this
// header stays cheap to include.
//
// Acks: an input attaches an AckHandle to every message it returns (or none,
// when it has nothing to acknowledge); the runtime resolves the handles.

#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/message.h"
#include "runtime/build_context.h"
#include "runtime/task.h"
#include "runtime/write_outcome.h"

namespace sluice::runtime {

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

}  // namespace sluice::runtime
