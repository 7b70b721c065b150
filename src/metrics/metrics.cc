#include "metrics/metrics.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace sluice::metrics {
namespace {

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string label_text(const Labels& labels, const std::string& extra = {}) {
  if (labels.empty() && extra.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ",";
    out += labels[i].first + "=\"" + escape_label(labels[i].second) + "\"";
  }
  if (!extra.empty()) out += (labels.empty() ? "" : ",") + extra;
  return out + "}";
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v, uint64_t n) {
  size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(n, std::memory_order_relaxed);
  count_.fetch_add(n, std::memory_order_relaxed);
  double cur = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(cur, cur + v * static_cast<double>(n), std::memory_order_relaxed)) {
  }
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s{bounds_, {}, sum_.load(std::memory_order_relaxed), 0};
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  return s;
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60};
}

std::vector<double> size_buckets() { return {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000}; }

Registry::Family& Registry::family(const std::string& name, const std::string& help, Type type) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.type = type;
    it->second.help = help;
  } else if (it->second.type != type) {
    throw std::logic_error("metric " + name + " registered with two types");
  }
  return it->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, Type::counter).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, Type::gauge).gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, const Labels& labels,
                               const std::vector<double>& bounds) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, Type::histogram).histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

void Registry::gauge_fn(const std::string& name, const std::string& help, const Labels& labels,
                        std::function<double()> fn) {
  std::lock_guard lock(mu_);
  family(name, help, Type::gauge).fns[labels] = std::move(fn);
}

void Registry::counter_fn(const std::string& name, const std::string& help, const Labels& labels,
                          std::function<double()> fn) {
  std::lock_guard lock(mu_);
  family(name, help, Type::counter).fns[labels] = std::move(fn);
}

std::string Registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.type == Type::counter ? "counter" : f.type == Type::gauge ? "gauge" : "histogram";
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(f.help), name, type);
    for (const auto& [labels, c] : f.counters) out += fmt::format("{}{} {}\n", name, label_text(labels), c->value());
    for (const auto& [labels, g] : f.gauges) out += fmt::format("{}{} {}\n", name, label_text(labels), g->value());
    for (const auto& [labels, fn] : f.fns) out += fmt::format("{}{} {}\n", name, label_text(labels), number(fn()));
    for (const auto& [labels, h] : f.histograms) {
      auto s = h->snapshot();
      for (size_t i = 0; i < s.bounds.size(); ++i)
        out += fmt::format("{}_bucket{} {}\n", name, label_text(labels, "le=\"" + number(s.bounds[i]) + "\""),
                           s.cumulative[i]);
      out += fmt::format("{}_bucket{} {}\n", name, label_text(labels, "le=\"+Inf\""), s.count);
      out += fmt::format("{}_sum{} {}\n", name, label_text(labels), number(s.sum));
      out += fmt::format("{}_count{} {}\n", name, label_text(labels), s.count);
    }
  }
  return out;
}

}  // namespace sluice::metrics
