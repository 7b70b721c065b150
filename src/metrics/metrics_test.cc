#include "metrics/metrics.h"

#include <gtest/gtest.h>

namespace sluice::metrics {
namespace {

TEST(Metrics, RendersPrometheusText) {
  Registry r;
  r.counter("sluice_sent_total", "Messages sent.", {{"pipeline", "a\"b"}}).inc(3);
  r.gauge("sluice_in_flight", "In flight.").set(-2);
  r.gauge_fn("sluice_queue_depth", "Depth.", {{"queue", "q"}}, [] { return 7.0; });
  auto& h = r.histogram("sluice_latency_seconds", "Latency.", {{"p", "x"}}, {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const std::string text = r.render();
  EXPECT_NE(text.find("# TYPE sluice_sent_total counter\nsluice_sent_total{pipeline=\"a\\\"b\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sluice_in_flight -2\n"), std::string::npos);
  EXPECT_NE(text.find("sluice_queue_depth{queue=\"q\"} 7\n"), std::string::npos);
  EXPECT_NE(text.find("sluice_latency_seconds_bucket{p=\"x\",le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("sluice_latency_seconds_bucket{p=\"x\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("sluice_latency_seconds_bucket{p=\"x\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("sluice_latency_seconds_count{p=\"x\"} 3\n"), std::string::npos);
}

TEST(Metrics, SameNameAndLabelsIsTheSameMetric) {
  Registry r;
  r.counter("c_total", "c", {{"a", "1"}}).inc();
  r.counter("c_total", "c", {{"a", "1"}}).inc();
  EXPECT_EQ(r.counter("c_total", "c", {{"a", "1"}}).value(), 2u);
  EXPECT_THROW(r.gauge("c_total", "c"), std::logic_error);
}

}  // namespace
}  // namespace sluice::metrics
