#pragma once
// Retry delays: full-jitter exponential backoff (a uniformly random delay
// between 0 and min(max, initial * 2^retry)), never shorter than the peer's
// Retry-After hint. Pure so it can be tested without waiting.

#include <chrono>
#include <cstdint>
#include <random>

namespace sluice::runtime {

struct BackoffPolicy {
  std::chrono::nanoseconds initial{std::chrono::milliseconds(200)};
  std::chrono::nanoseconds max{std::chrono::seconds(30)};
};

// `retry` counts from 0 for the first retry.
std::chrono::nanoseconds backoff_delay(const BackoffPolicy& p, int retry, std::chrono::nanoseconds retry_after,
                                       std::mt19937_64& rng);

}  // namespace sluice::runtime
