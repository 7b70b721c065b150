#pragma once
// `sluice provider-sim`: a Twilio-compatible SMS provider for local runs and
// load tests. It speaks the Messages API (POST .../Messages.json, Basic
// auth, realistic 201 bodies and error codes), sends each sender's messages
// at its MPS from a bounded queue (overflow: 400/21611), limits the
// account's concurrent requests (429/20429), injects latency, 5xx and 429s,
// and posts signed status callbacks (sent, then delivered / undelivered /
// failed), optionally reordered and duplicated, retrying failed ones. It
// honours ValidityPeriod as Twilio does (1 to 36,000 s, else 400/21624; a
// message still queued past it fails with 30036; /sim/stats counts
// `with_validity_period`).
// GET .../Messages.json lists messages newest first with Twilio's filters
// (To, From, DateSent, DateSent<, DateSent>, PageSize; all on one page by
// default), and GET .../Messages/{sid}.json gives one (404 for a sid it does
// not know). See messages.h; /sim/stats counts duplicate texts.
// GET /sim/stats reports what happened, including the most sends it accepted
// from one sender in any one-second window. Outcomes are deterministic with
// a seed; message sids are random (SM + 32 hex), unique across restarts like
// Twilio's. With `state` its records survive a restart, even `kill -9`, and
// messages it had not finished are resumed.

#include <chrono>
#include <cstdint>
#include <string>

namespace sluice::provider_sim {

struct Options {
  std::string address = "127.0.0.1:4197";
  std::string account_sid = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  std::string auth_token = "sim-auth-token";
  double mps = 10;                  // sends per second per sender
  int64_t queue_size = 10'000;      // queued messages per sender before 21611
  int64_t max_concurrency = 100;    // account requests in progress before 20429
  std::chrono::milliseconds latency{0};
  double error_rate = 0;            // share of requests answered 500
  double throttle_rate = 0;         // share of requests answered 429 at random
  double p_undelivered = 0.03;
  double p_failed = 0.02;           // the rest is delivered
  // Share of first attempts to a number that end undelivered (30003, the
  // handset unreachable), while any later message with the same text is
  // delivered: what a resend policy is tested against.
  double first_attempt_undelivered = 0;
  std::chrono::milliseconds delivery_delay{200};  // from sent to the final status
  double reorder = 0;               // share of callbacks held back to arrive late
  double duplicates = 0;            // share of callbacks sent twice
  uint64_t seed = 1;
  std::string state;                // journal file: records survive a restart (see messages.h)
};

// Runs until SIGINT/SIGTERM; returns the exit code.
int run(const Options& options);

}  // namespace sluice::provider_sim
