#pragma once
// The whole config file, validated. load_file() collects every error (for
// `sluice lint`); the runtime builds pipelines from a Config that loaded
// cleanly.

#include <chrono>
#include <map>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "config/registry.h"
#include "config/spec.h"
#include "config/units.h"
#include "ratelimit/token_bucket.h"

namespace sluice::config {

using std::chrono::nanoseconds;

struct ComponentConfig {
  const ComponentSpec* spec = nullptr;
  Values values;
  Position where;
};

struct BatchingConfig {
  int64_t count = 1;      // flush when this many messages are buffered
  int64_t bytes = 0;      // ... or this many payload bytes (0: no limit)
  nanoseconds period{0};  // ... or this long after the first (0: no wait)
};

struct RetryConfig {
  int64_t max_attempts = 5;
  nanoseconds initial = std::chrono::milliseconds(200);
  nanoseconds max = std::chrono::seconds(30);
};

struct OutputConfig {
  ComponentConfig component;
  std::string rate_limit;  // name in rate_limits, or empty
  int64_t max_in_flight = 64;
  bool adaptive_concurrency = false;  // `concurrency: adaptive`: AIMD up to max_in_flight
  BatchingConfig batching;
  RetryConfig retry;
  std::shared_ptr<OutputConfig> dead_letter;
  // Receives each message this output confirmed, with the metadata the
  // output set (e.g. the provider's id), before the source is acked.
  std::shared_ptr<OutputConfig> then;
};

struct InputConfig {
  ComponentConfig component;
  int64_t concurrency = 1;
};

struct PipelineConfig {
  std::string name;
  Position where;
  InputConfig input;
  std::vector<ComponentConfig> processors;
  int64_t processor_workers = 0;  // 0: one per thread
  std::vector<OutputConfig> outputs;  // more than one: fan-out
};

struct RateLimitConfig {
  std::string name;
  Position where;
  ratelimit::RateSpec spec;
  std::optional<tmpl::Template> key;
  std::optional<tmpl::Template> cost;
  int64_t max_keys = 100'000;
  // Where the buckets live: the backend named in the block, else `local`.
  ComponentConfig backend;
};

// One entry of `resources`: resources.<spec name>.<name>.
struct ResourceConfig {
  const ComponentSpec* spec = nullptr;
  std::string name;
  Values values;
  Position where;
};

struct Config {
  std::string file;
  std::string admin_address = "127.0.0.1:4195";
  bool admin_enabled = true;
  std::vector<std::string> admin_hosts;  // names the admin API answers to, beside IP addresses and localhost
  std::string data_dir = "./data";
  // Feature sections (Registry::sections), by name, defaults filled.
  std::map<std::string, Values> sections;
  // A registered section's values; empty Values if the registry has none.
  const Values& section(const std::string& name) const;
  std::string log_level = "info";
  std::string log_format = "text";
  int64_t threads = 0;  // 0: one per core
  nanoseconds shutdown_timeout = std::chrono::seconds(20);
  std::vector<RateLimitConfig> rate_limits;
  std::vector<ResourceConfig> resources;
  std::vector<PipelineConfig> pipelines;
  const ResourceConfig* resource(const std::string& kind, const std::string& name) const;
};

std::expected<Config, Diagnostics> load_file(const std::string& path, const Registry& registry,
                                             const EnvLookup& env = process_env());
std::expected<Config, Diagnostics> load_string(const std::string& yaml, const std::string& file_name,
                                               const Registry& registry, const EnvLookup& env = process_env());

// Field specs of the top-level sections, shared by the loader and `sluice docs`
// (core ones; a registry adds its feature sections).
const std::vector<Field>& top_level_fields();
std::vector<Field> top_level_fields(const Registry& registry);
const std::vector<Field>& rate_limit_fields();
const std::vector<Field>& pipeline_fields();
const std::vector<Field>& input_common_fields();
const std::vector<Field>& output_common_fields();

}  // namespace sluice::config
