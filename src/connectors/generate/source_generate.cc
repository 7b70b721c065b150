#include "connectors/generate/source_generate.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <random>

#include "ratelimit/token_bucket.h"
#include "runtime/component.h"

namespace sluice::connectors {
namespace {

namespace asio = boost::asio;

// Template functions; one instance per read, carrying that message's seq.
class GenerateFunctions final : public tmpl::Functions {
 public:
  enum : int { kSeq, kUuid, kNow, kPhone };
  int find(std::string_view name) const override {
    if (name == "seq") return kSeq;
    if (name == "uuid") return kUuid;
    if (name == "now") return kNow;
    if (name == "phone") return kPhone;
    return -1;
  }
  // snprintf, not fmt::format_to: fmt's formatting into a std::string
  // iterator costs seconds of compile time per call site.
  void call(int index, std::string& out) override {
    char text[48];
    int n = 0;
    switch (index) {
      case kSeq: n = std::snprintf(text, sizeof text, "%" PRIu64, seq); break;
      case kUuid: {
        const uint64_t a = (*rng)(), b = (*rng)();
        // RFC 4122 version 4, variant 1.
        n = std::snprintf(text, sizeof text, "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-%04" PRIx64 "-%012" PRIx64,
                          a >> 32, (a >> 16) & 0xffff, a & 0xfff, 0x8000 | ((b >> 48) & 0x3fff),
                          b & uint64_t{0xffffffffffff});
        break;
      }
      case kNow: {
        const auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
        const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
        std::tm utc{};
        gmtime_r(&seconds, &utc);
        n = static_cast<int>(std::strftime(text, sizeof text, "%FT%T", &utc));
        n += std::snprintf(text + n, sizeof text - n, ".%03dZ",
                           static_cast<int>(now.time_since_epoch().count() % 1000));
        break;
      }
      case kPhone:
        // North American fictional range 555-01xx is too small; +1 555 with a
        // random seven-digit subscriber number is clearly not a real line.
        n = std::snprintf(text, sizeof text, "+1555%07" PRIu64, (*rng)() % 10'000'000);
        break;
    }
    out.append(text, static_cast<size_t>(n));
  }
  uint64_t seq = 0;
  std::mt19937_64* rng = nullptr;
};

const GenerateFunctions kFunctionNames;

class GenerateInput final : public runtime::Input {
 public:
  GenerateInput(const config::Values& v, runtime::BuildContext& ctx)
      : io_(ctx.io()),
        template_(v.tmpl("template")),
        count_(static_cast<uint64_t>(v.integer("count"))),
        batch_size_(static_cast<uint64_t>(v.integer("batch_size"))) {
    if (v.has("rate")) {
      const double rate = v.number("rate");
      // Small batches at low rates so messages flow smoothly, not in bursts.
      batch_size_ = std::clamp<uint64_t>(static_cast<uint64_t>(rate / 100), 1, batch_size_);
      bucket_.emplace(ratelimit::RateSpec{rate, static_cast<double>(batch_size_)}, core::SteadyClock::instance());
    }
  }

  runtime::Task<core::Result<core::Batch>> read() override {
    if (closed_) co_return core::fail(core::Errc::closed);
    uint64_t n = batch_size_;
    uint64_t first = next_.fetch_add(n);
    if (count_ > 0) {
      if (first >= count_) co_return core::fail(core::Errc::end_of_input);
      n = std::min(n, count_ - first);
    }
    if (bucket_) {
      const int64_t wait = bucket_->reserve(static_cast<double>(n));
      // Waited in slices, so that close() (from any thread) ends the wait
      // within kCloseLatency without touching this coroutine's timer.
      const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(wait);
      asio::steady_timer timer(io_);
      for (auto now = std::chrono::steady_clock::now(); now < until; now = std::chrono::steady_clock::now()) {
        if (closed_) co_return core::fail(core::Errc::closed);
        timer.expires_after(std::min<std::chrono::steady_clock::duration>(until - now, kCloseLatency));
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      if (closed_) co_return core::fail(core::Errc::closed);
    }
    thread_local std::mt19937_64 rng{std::random_device{}()};
    GenerateFunctions fns;
    fns.rng = &rng;
    core::Batch batch;
    batch.messages.reserve(n);
    static const core::Message empty;
    std::string text;
    for (uint64_t i = 0; i < n; ++i) {
      fns.seq = first + i + 1;
      text.clear();
      (void)template_.render_to(empty, text, &fns);  // only functions: cannot fail
      batch.messages.emplace_back(text);
    }
    co_return batch;
  }

  void close() override { closed_ = true; }

 private:
  static constexpr std::chrono::milliseconds kCloseLatency{100};
  asio::io_context& io_;
  tmpl::Template template_;
  uint64_t count_;
  uint64_t batch_size_;
  std::optional<ratelimit::TokenBucket> bucket_;
  std::atomic<uint64_t> next_{0};
  std::atomic<bool> closed_{false};
};

}  // namespace

config::ComponentSpec generate_input_spec() {
  using config::Type;
  return {
      .name = "generate",
      .kind = config::Kind::input,
      .summary = "Generates messages from a template: a fixed count or unbounded, at an optional rate. "
                 "Template functions: {{seq}} (1, 2, ...), {{uuid}} (random v4), {{now}} (UTC, RFC 3339), "
                 "{{phone}} (a random +1555 number). With a count, the input ends after the last message.",
      .fields = {{.name = "template", .type = Type::tmpl, .doc = "The message body.",
                  .default_value = R"({"seq":{{seq}}})", .allow_functions = true},
                 {.name = "count", .type = Type::integer, .doc = "Messages to generate; 0 for no end.",
                  .default_value = "0", .min = 0},
                 {.name = "rate", .type = Type::rate, .doc = "Generation rate, e.g. 1000/s; unlimited when absent."},
                 {.name = "batch_size", .type = Type::integer, .doc = "Messages per batch.", .default_value = "1000",
                  .min = 1, .max = 100000}},
      .example = "input:\n  generate: {count: 5000, rate: 100/s, template: '{\"to\":\"{{phone}}\",\"n\":{{seq}}}'}",
      .functions = &kFunctionNames,
      .make_input = runtime::build<GenerateInput>,
  };
}

}  // namespace sluice::connectors
