#pragma once
// One configured output of a pipeline and everything around the write:
// splitting and re-batching (`batching`), `max_in_flight` concurrent writers,
// the rate limit taken per message and per attempt, retries with full-jitter
// backoff, and the dead letter.
//
// Lifecycle: built with the pipeline; start() spawns its coroutines; push()
// feeds it (waiting when it is full: backpressure) or try_push() (refused
// when it is full; a writer then takes what waits, up to one write's worth,
// in one batch); finish() says no more
// batches will come; `on_done` runs once every writer has ended and the
// output was closed.
// `then`: a second stage that receives each message once this output
// confirmed it (with the metadata the output set); it is started, fed and
// finished by this one, and this stage is done when it is.
// `dead_letter`: a stage too (its batching, concurrency and `then` apply),
// started, fed and finished by this one; this stage is done when both are.
// Acks: each message's handle is resolved here: delivered once written (or
// dead-lettered; with `then`, once `then` confirmed it too), rejected when it
// failed for good without a dead letter (errored when it was refused for
// overload every time: its source keeps it).
// Threads: its coroutines run on any of the engine's threads.

#include <memory>

#include "config/config.h"
#include "runtime/component.h"

namespace sluice::runtime {

struct StageLabels {
  std::string pipeline;
  std::string component;  // e.g. "queue", "file#2", "dead_letter.queue"
};

class OutputStage {
 public:
  // `entry_capacity` > 0: a push input feeds this stage directly, one
  // message per batch, and so many may wait for a writer (else
  // max_in_flight batches).
  OutputStage(const config::OutputConfig& cfg, BuildContext& ctx, StageLabels labels, size_t entry_capacity = 0);
  ~OutputStage();

  void start(std::function<void()> on_done);
  Task<void> push(core::Batch batch);
  // Takes `batch` (no bigger than one write) if there is room now; false,
  // leaving it untouched, if not.
  bool try_push(core::Batch& batch);
  Task<void> finish();
  bool has_dead_letter() const;
  // Sends messages that failed before reaching this output to its dead letter.
  Task<void> deliver_dead_letter(core::Batch batch);
  const StageLabels& labels() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::runtime
