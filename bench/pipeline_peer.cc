// Peer for benchmark (a): the work of generate -> mapping -> drop done by a
// bare loop on one thread: render the template, parse the JSON, set a
// field. No engine, no channels, no acks: what the work itself costs.
//
// usage: pipeline_peer [messages]
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <random>

#include "core/message.h"
#include "template/template.h"

namespace {
class Fns final : public sluice::tmpl::Functions {
 public:
  int find(std::string_view n) const override { return n == "seq" ? 0 : n == "phone" ? 1 : -1; }
  void call(int i, std::string& out) override {
    // The same formatting as generate's {{seq}} and {{phone}}.
    char text[32];
    const int n = i == 0 ? std::snprintf(text, sizeof text, "%" PRIu64, seq)
                         : std::snprintf(text, sizeof text, "+1555%07" PRIu64, rng() % 10'000'000);
    out.append(text, static_cast<size_t>(n));
  }
  uint64_t seq = 0;
  std::mt19937_64 rng{1};
};
}  // namespace

int main(int argc, char** argv) {
  const uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 5'000'000;
  Fns fns;
  auto t = sluice::tmpl::Template::compile(R"({"to":"{{phone}}","body":"alert {{seq}}"})", &fns).value();
  const sluice::core::Message empty;
  uint64_t checksum = 0;
  const auto start = std::chrono::steady_clock::now();
  std::string text;
  for (uint64_t i = 1; i <= n; ++i) {
    fns.seq = i;
    text.clear();
    (void)t.render_to(empty, text, &fns);
    sluice::core::Message m(text);
    m.mutable_json().as_object()["channel"] = "sms";
    checksum += m.json()->as_object().size();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.0f\n", static_cast<double>(n) / s);
  return checksum == 3 * n ? 0 : 1;
}
