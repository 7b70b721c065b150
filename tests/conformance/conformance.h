#pragma once
// The conformance suite: the contract every input and output keeps, checked
// against the real connector and a real peer (a file, a pipe, the embedded
// queue's database, an HTTP server, the ledger's database).
//
// A connector joins by adding one harness (harnesses.cc): how to configure
// it, how to put messages into its source or read what reached its peer,
// and which parts of the contract apply. Each check returns the violations
// it found, in plain words, so a test can also show that a deliberately
// broken connector fails (conformance_test.cc).
//
// Inputs (check_input): what is read is what was produced, each message once;
//   delivered acks are acknowledged at the source; errored (nacked) ones are
//   delivered again; rejected ones reach the source's dead letter; close()
//   ends a pending read within 1 s; acks resolved just before drain() reach
//   the source by the time drain() returns. A push input (http_server) is
//   read as the pipeline takes it in: through an intake as big as it asks.
// Outputs (check_output): a write confirms (ok) only what reached the peer;
//   transient peer failures are `retry`, permanent ones `reject` with a
//   reason, entry by entry in one batch; after close() the peer has
//   everything confirmed, and nothing was written twice.
// Through the real binary (tests/engine/test_engine.py): a clean SIGTERM
// loses and redelivers nothing (test_sigterm_drains_and_a_restart_delivers_the_rest),
// and a durable input loses nothing across kill -9
// (test_queue_survives_kill9_at_random_moments); a new durable input adds
// its own run of both.

#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "metrics/metrics.h"
#include "runtime/component.h"

namespace sluice::conformance {

using Violations = std::vector<std::string>;

// An io_context on two threads, a temp data_dir, and components built from
// YAML blocks exactly as `sluice run` builds them.
class Env {
 public:
  explicit Env(const config::Registry& registry);
  ~Env();

  const std::filesystem::path& dir() const { return dir_; }
  boost::asio::io_context& io() { return io_; }
  runtime::BuildContext& ctx() { return *ctx_; }

  // `block` is a component block, e.g. "queue: {name: q}".
  std::unique_ptr<runtime::Input> make_input(const std::string& block);
  std::unique_ptr<runtime::Output> make_output(const std::string& block);

  // Runs `task` on the io_context; false if it did not finish within `limit`.
  bool run(std::function<runtime::Task<void>()> task, std::chrono::milliseconds limit);
  // Drops the shared objects (e.g. the queue store) so their work is committed.
  void release_shared();

 private:
  const config::PipelineConfig& load(const std::string& input_block, const std::string& output_block);

  const config::Registry& registry_;
  std::filesystem::path dir_;
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  metrics::Registry metrics_;
  config::Config base_;
  std::vector<std::unique_ptr<config::Config>> configs_;  // each built component's config lives on
  std::unique_ptr<runtime::BuildContext> ctx_;
};

class InputHarness {
 public:
  virtual ~InputHarness() = default;
  // The input's config block. `payloads` are what the check will read:
  // sources whose messages are configured (a file, a generator) use them
  // here, the others in produce().
  virtual std::string block(Env& env, const std::vector<std::string>& payloads) = 0;
  // Puts `payloads` into the source; called after start().
  virtual void produce(Env&, const std::vector<std::string>&) {}
  // Whether the source hears acks (redelivers nacks, dead-letters rejects).
  virtual bool acknowledges() const = 0;
  // Acknowledging sources, once the input is gone: what the source would
  // deliver again, and what it holds as dead letters.
  virtual std::vector<std::string> redeliverable(Env&) { return {}; }
  virtual std::vector<std::string> dead(Env&) { return {}; }
  // Acknowledging sources, while the input still runs: how many of the
  // produced messages the source has seen acknowledged as delivered.
  virtual size_t acknowledged(Env&) { return 0; }
  // Arranges that the next reads find nothing and wait (for close()).
  virtual void make_idle(Env&) {}
  // What the check compares a read message by: its payload, unless the
  // source wraps what was produced in messages of its own.
  virtual std::string seen_as(const std::string& payload) const { return payload; }
};

class OutputHarness {
 public:
  enum class Kind { ok, transient, permanent };
  virtual ~OutputHarness() = default;
  virtual std::string block(Env& env) = 0;
  // The payload of message `id`; `kind` says how the peer must answer it.
  virtual std::string payload(const std::string& id, Kind kind) = 0;
  // Kinds the peer can be told to answer by payload; ok always.
  virtual bool supports(Kind kind) const { return kind == Kind::ok; }
  // Whether the peer can be read back (drop: nowhere to look).
  virtual bool observable() const { return true; }
  // The ids the peer holds, in arrival order (repeats mean duplicates).
  // Called once the output is closed and destroyed.
  virtual std::vector<std::string> received(Env&) { return {}; }
  // An output that cannot reach its peer at all (e.g. a full disk), for
  // outputs whose failures are not per message; empty when not supported.
  virtual std::string unreachable_block(Env&) { return {}; }
};

Violations check_input(const std::function<std::unique_ptr<InputHarness>()>& make, const config::Registry& registry);
Violations check_output(const std::function<std::unique_ptr<OutputHarness>()>& make,
                        const config::Registry& registry);

}  // namespace sluice::conformance
