#pragma once
// One pipeline: `concurrency` input readers -> bounded channel of batches ->
// processor workers -> one OutputStage per output (fan-out copies the batch;
// the source is acked only when every copy is resolved).
//
// Lifecycle: built (components constructed, ConfigError on bad settings);
// start() awaits Input::start, then spawns the readers; runs until its input
// is exhausted or stop() closes it; the stages drain in order, then
// Input::drain flushes the input's last acks, then `on_done` runs once. Destroying a pipeline whose coroutines
// were cut off resolves their messages as errored (nacked).
// Threads: start/stop from any thread; coroutines on the engine's threads.

#include <boost/json/fwd.hpp>

#include <functional>
#include <memory>

#include "config/config.h"
#include "runtime/build_context.h"

namespace sluice::runtime {

class Pipeline {
 public:
  Pipeline(const config::PipelineConfig& cfg, BuildContext& ctx, int threads);
  ~Pipeline();

  void start(std::function<void()> on_done);
  void stop();
  const std::string& name() const;
  // State and counts for /api/pipelines.
  boost::json::object status() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::runtime
