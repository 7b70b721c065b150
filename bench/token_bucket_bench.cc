// Benchmark (c): one uncontended token-bucket take. Ours (GCRA on one atomic)
// beside the textbook bucket behind a mutex, from the same run.
#include <benchmark/benchmark.h>

#include <mutex>

#include "core/clock.h"
#include "ratelimit/keyed_buckets.h"
#include "ratelimit/token_bucket.h"

namespace {

using sluice::core::SteadyClock;
using sluice::ratelimit::RateSpec;

// The usual implementation: tokens as a double, refilled from elapsed time,
// all under a mutex; a take may leave a debt, paid by waiting.
class NaiveBucket {
 public:
  NaiveBucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst), last_(now()) {}
  int64_t reserve(double cost = 1) {
    std::lock_guard lock(mu_);
    const int64_t t = now();
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(t - last_) * rate_ / 1e9);
    last_ = t;
    tokens_ -= cost;
    return tokens_ >= 0 ? 0 : static_cast<int64_t>(-tokens_ / rate_ * 1e9);
  }

 private:
  static int64_t now() { return SteadyClock::instance().now_ns(); }
  std::mutex mu_;
  double rate_, burst_, tokens_;
  int64_t last_;
};

// A rate no benchmark can exhaust, so every take succeeds and we time the
// take itself, not the refusal path.
constexpr RateSpec kSpec{1e12, 1e9};

void BM_GcraReserve(benchmark::State& state) {
  static sluice::ratelimit::TokenBucket bucket(kSpec, SteadyClock::instance());
  for (auto _ : state) benchmark::DoNotOptimize(bucket.reserve());
}
BENCHMARK(BM_GcraReserve)->Threads(1)->Threads(2);

void BM_MutexNaiveReserve(benchmark::State& state) {
  static NaiveBucket bucket(kSpec.per_second, kSpec.burst);
  for (auto _ : state) benchmark::DoNotOptimize(bucket.reserve());
}
BENCHMARK(BM_MutexNaiveReserve)->Threads(1)->Threads(2);

void BM_KeyedReserve(benchmark::State& state) {
  static sluice::ratelimit::KeyedBuckets buckets(kSpec, SteadyClock::instance());
  const std::string keys[] = {"+15550000001", "+15550000002", "+15550000003", "+15550000004"};
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(buckets.reserve(keys[i++ & 3]));
}
BENCHMARK(BM_KeyedReserve);

}  // namespace

BENCHMARK_MAIN();
