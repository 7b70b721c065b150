#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

#include "config/config.h"
#include "config/yaml_reader.h"
#include "core/closest.h"
#include "core/listen_address.h"

namespace sluice::config {

const std::vector<Field>& top_level_fields() {
  static const std::vector<Field> fields = {
      {.name = "admin",
       .type = Type::object,
       .doc = "Admin HTTP server: /metrics, /health/live, /health/ready, /api/pipelines.",
       .children = {{.name = "address", .doc = "host:port to listen on.", .default_value = "127.0.0.1:4195"},
                    {.name = "hosts", .type = Type::string_list,
                     .doc = "Host names the admin API answers to (it always answers to IP addresses and localhost); "
                            "other Host headers get 421, against DNS rebinding."},
                    {.name = "enabled", .type = Type::boolean, .doc = "Serve the admin API.",
                     .default_value = "true"}}},
      {.name = "data_dir", .doc = "Directory for the embedded queue and ledger.", .default_value = "./data"},
      {.name = "log",
       .type = Type::object,
       .doc = "Logging to stderr.",
       .children = {{.name = "level", .doc = "Least severe level printed.", .default_value = "info",
                     .choices = {"trace", "debug", "info", "warn", "error", "off"}},
                    {.name = "format", .doc = "text for people, json for log collectors.", .default_value = "text",
                     .choices = {"text", "json"}}}},
      {.name = "threads", .type = Type::integer, .doc = "Worker threads; 0 means one per core.",
       .default_value = "0", .min = 0, .max = 256},
      {.name = "shutdown_timeout", .type = Type::duration,
       .doc = "On SIGINT/SIGTERM, how long in-flight messages may take to finish before they are nacked.",
       .default_value = "20s"},
      {.name = "rate_limits", .type = Type::object, .doc = "Named rate limits (see `sluice docs rate_limits`)."},
      {.name = "resources", .type = Type::object,
       .doc = "Shared clients by kind and name, e.g. `resources: {http: {twilio_pool: {max_connections: 32}}}`; "
              "components name one (`client: twilio_pool`) and share it (see `sluice docs resources`)."},
      {.name = "pipelines", .type = Type::object, .doc = "Named pipelines: input, processors, output(s).",
       .required = true},
  };
  return fields;
}

std::vector<Field> top_level_fields(const Registry& registry) {
  // Feature sections go before the named collections (rate_limits, resources, pipelines).
  std::vector<Field> fields = top_level_fields();
  auto at = std::find_if(fields.begin(), fields.end(), [](const Field& f) { return f.name == "rate_limits"; });
  for (const auto& sec : registry.sections())
    at = std::next(fields.insert(at, {.name = sec.name, .type = Type::object, .doc = sec.doc, .children = sec.fields}));
  return fields;
}

const Values& Config::section(const std::string& name) const {
  static const Values none;
  auto it = sections.find(name);
  return it == sections.end() ? none : it->second;
}

const ResourceConfig* Config::resource(const std::string& kind, const std::string& name) const {
  for (const auto& r : resources)
    if (r.spec && r.spec->name == kind && r.name == name) return &r;
  return nullptr;
}

const std::vector<Field>& rate_limit_fields() {
  static const std::vector<Field> fields = {
      {.name = "rate", .type = Type::rate, .doc = "Sustained rate: N/s, N/min or N/h.", .required = true},
      {.name = "burst", .type = Type::number, .doc = "Bucket capacity: how many may go at once after idling.",
       .default_value = "1", .min = 1},
      {.name = "key", .type = Type::tmpl,
       .doc = "Template giving one bucket per distinct value, e.g. \"{{from}}\" for a limit per sender."},
      {.name = "cost", .type = Type::tmpl,
       .doc = "Template giving the tokens a message takes, e.g. \"{{meta.segments}}\"; default 1."},
      {.name = "max_keys", .type = Type::integer, .doc = "Most keyed buckets kept; refilled ones are evicted first.",
       .default_value = "100000", .min = 1},
  };
  return fields;
}

const std::vector<Field>& input_common_fields() {
  static const std::vector<Field> fields = {
      {.name = "concurrency", .type = Type::integer,
       .doc = "Readers of this input running at once (default 1; sqs sets its own with `receivers`).",
       .min = 1, .max = 1024},
  };
  return fields;
}

const std::vector<Field>& output_common_fields() {
  static const std::vector<Field> fields = {
      {.name = "rate_limit", .doc = "Name of a rate limit from rate_limits. Each message takes its cost in tokens before each attempt to write it (a retry is another request to the peer, so it takes them again); a write reserves the tokens of all its messages at once.",
       .names_rate_limit = true},
      {.name = "max_in_flight", .type = Type::integer, .doc = "Writes (batches) under way at once.",
       .default_value = "64", .min = 1, .max = 65536},
      {.name = "concurrency",
       .doc = "fixed: max_in_flight writes at once. adaptive: AIMD finds the limit between 1 and max_in_flight, "
              "shrinking on overload answers (429, 503, timeouts) and rising round-trips, growing while the peer "
              "keeps up.",
       .default_value = "fixed",
       .choices = {"fixed", "adaptive"}},
      {.name = "batching",
       .type = Type::object,
       .doc = "Group messages into one write; a batch is flushed when any limit is reached.",
       .children = {{.name = "count", .type = Type::integer, .doc = "Messages per batch.", .default_value = "1",
                     .min = 1, .max = 1'000'000},
                    {.name = "bytes", .type = Type::size, .doc = "Payload bytes per batch; 0 for no limit.",
                     .default_value = "0"},
                    {.name = "period", .type = Type::duration,
                     .doc = "Longest wait for a batch to fill after its first message.", .default_value = "0s"}}},
      {.name = "retry",
       .type = Type::object,
       .doc = "Retries of failed writes with full-jitter exponential backoff (a Retry-After from the output wins).",
       .children = {{.name = "max_attempts", .type = Type::integer, .doc = "Attempts in all, the first included.",
                     .default_value = "5", .min = 1, .max = 1000},
                    {.name = "initial", .type = Type::duration, .doc = "Backoff cap of the first retry.",
                     .default_value = "200ms"},
                    {.name = "max", .type = Type::duration, .doc = "Largest backoff.", .default_value = "30s"}}},
  };
  return fields;
}

const std::vector<Field>& pipeline_fields() {
  static const std::vector<Field> fields = {
      {.name = "processor_workers", .type = Type::integer,
       .doc = "Batches processed at once by the processor chain; 0 means one per thread.", .default_value = "0",
       .min = 0, .max = 1024},
  };
  return fields;
}

namespace {

class Loader {
 public:
  Loader(const Registry& registry, YamlReader& reader) : registry_(registry), r_(reader) {}

  Config load(const YAML::Node& root) {
    Config c;
    c.file = r_.file();
    if (!root.IsMap()) {
      r_.error(root, "a config file must be a map with at least a 'pipelines' section");
      return c;
    }
    Values top = r_.read(root, top_level_fields(registry_), "the config", nullptr,
                         {"rate_limits", "resources", "pipelines"});
    const Values& admin = top.object("admin");
    if (admin.has("address")) {
      c.admin_address = admin.str("address");
      if (auto a = core::parse_listen_address(c.admin_address); !a)
        r_.diagnostics().error(admin.where("address"), "admin.address: " + a.error());
    }
    if (admin.has("enabled")) c.admin_enabled = admin.boolean("enabled");
    if (admin.has("hosts"))
      for (const auto& h : admin.list("hosts")) {
        std::string name = h;
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
        c.admin_hosts.push_back(std::move(name));
      }
    const Values& log = top.object("log");
    if (log.has("level")) c.log_level = log.str("level");
    if (log.has("format")) c.log_format = log.str("format");
    if (top.has("data_dir")) c.data_dir = top.str("data_dir");
    for (const auto& sec : registry_.sections()) c.sections[sec.name] = top.object(sec.name);
    if (top.has("threads")) c.threads = top.integer("threads");
    if (top.has("shutdown_timeout")) c.shutdown_timeout = top.duration("shutdown_timeout");

    if (auto limits = root["rate_limits"]) read_rate_limits(limits, c);
    if (auto resources = root["resources"]) read_resources(resources, c);
    auto pipelines = root["pipelines"];
    if (!pipelines) {
      r_.error(root, "missing required section 'pipelines'");
    } else if (!pipelines.IsMap() || pipelines.size() == 0) {
      r_.error(pipelines, "'pipelines' must map pipeline names to pipelines, and name at least one");
    } else {
      refuse_duplicate_keys(pipelines, "pipeline");
      for (const auto& kv : pipelines) c.pipelines.push_back(read_pipeline(kv.first.Scalar(), kv.second));
    }
    check_rate_limit_references(c);
    check_resource_references(c);
    return c;
  }

 private:
  // YAML lets a map name a key twice, and both would be built; a name must
  // mean one thing.
  void refuse_duplicate_keys(const YAML::Node& map, const char* what) {
    std::map<std::string, int> first_line;
    for (const auto& kv : map) {
      auto [it, fresh] = first_line.emplace(kv.first.Scalar(), kv.first.Mark().line + 1);
      if (!fresh) r_.error(kv.first, fmt::format("{} '{}' is defined twice (first on line {})", what, it->first, it->second));
    }
  }

  void read_rate_limits(const YAML::Node& node, Config& c) {
    if (!node.IsMap()) {
      r_.error(node, "'rate_limits' must map names to rate limits");
      return;
    }
    refuse_duplicate_keys(node, "rate limit");
    for (const auto& kv : node) {
      const std::string name = kv.first.Scalar();
      const std::string what = fmt::format("rate limit '{}'", name);
      // Keys naming a backend are the backend's; any other unknown key is
      // reported as an unknown field of the rate limit.
      std::vector<std::string> backends;
      for (const auto& k : type_keys(kv.second, rate_limit_fields()))
        if (registry_.find(Kind::rate_limit_backend, k)) backends.push_back(k);
      Values v = r_.read(kv.second, rate_limit_fields(), what, nullptr, backends);
      RateLimitConfig rl;
      rl.backend = read_backend(kv.second, backends, what);
      rl.name = name;
      rl.where = r_.position(kv.first);
      if (v.has("rate")) rl.spec.per_second = v.number("rate");
      if (v.has("burst")) rl.spec.burst = v.number("burst");
      if (v.has("key")) rl.key = v.tmpl("key");
      if (v.has("cost")) rl.cost = v.tmpl("cost");
      if (v.has("max_keys")) rl.max_keys = v.integer("max_keys");
      c.rate_limits.push_back(std::move(rl));
    }
  }

  // A component's block read against its spec, its cross-field checks run,
  // and the rate limits and resources it names noted for checking.
  Values read_values(const YAML::Node& block, const ComponentSpec& spec, const std::string& what) {
    // Counted with the errors not kept: past 50, a component's own errors
    // would otherwise look like none, and its checks run on fields it lacks.
    const size_t errors_before = r_.diagnostics().count();
    // (A fresh node: assigning to a YAML::Node that shares `block` would rewrite `block`.)
    YAML::Node expanded(YAML::NodeType::Map);
    const bool short_form = block.IsScalar() && !spec.shorthand_field.empty();
    if (short_form) expanded[spec.shorthand_field] = block;
    Values values = r_.read(short_form ? expanded : block, spec.fields, what, spec.functions);
    if (spec.validate && r_.diagnostics().count() == errors_before) {
      try {
        spec.validate(values);
      } catch (const ConfigError& e) {
        r_.diagnostics().error(e.where(), e.message());
      }
    }
    for (const auto& f : spec.fields) {
      if (f.names_rate_limit && values.has(f.name))
        rate_limit_refs_.emplace_back(values.str(f.name), values.where(f.name));
      if (!f.names_resource.empty() && values.has(f.name))
        resource_refs_.push_back({f.names_resource, values.str(f.name), values.where(f.name)});
    }
    return values;
  }

  // The backend a rate limit's block names (at most one), or `local`.
  ComponentConfig read_backend(const YAML::Node& node, const std::vector<std::string>& keys, const std::string& what) {
    ComponentConfig c;
    c.where = r_.position(node);
    if (keys.size() > 1) {
      r_.error(node, fmt::format("{} names {} backends ('{}'); name at most one", what, keys.size(), fmt::join(keys, "', '")));
      return c;
    }
    const std::string name = keys.empty() ? "local" : keys.front();
    c.spec = registry_.find(Kind::rate_limit_backend, name);
    if (!c.spec) return c;  // a registry without backends (unit tests): the engine uses a local bucket
    YAML::Node block = keys.empty() ? YAML::Node() : node[name];
    c.values = read_values(block, *c.spec, fmt::format("the {} backend of {}", name, what));
    return c;
  }

  void read_resources(const YAML::Node& node, Config& c) {
    const auto kinds = registry_.names(Kind::resource);
    if (!node.IsMap()) {
      r_.error(node, fmt::format("'resources' must map resource kinds ({}) to named resources", fmt::join(kinds, ", ")));
      return;
    }
    for (const auto& kv : node) {
      const std::string kind = kv.first.Scalar();
      const ComponentSpec* spec = registry_.find(Kind::resource, kind);
      if (!spec) {
        auto hint = core::closest(kind, kinds);
        r_.error(kv.first, hint ? fmt::format("unknown resource kind '{}'; did you mean '{}'?", kind, *hint)
                                : fmt::format("unknown resource kind '{}' (known: {})", kind, fmt::join(kinds, ", ")));
        continue;
      }
      if (!kv.second.IsMap()) {
        r_.error(kv.second, fmt::format("resources.{} must map names to {} resources", kind, kind));
        continue;
      }
      for (const auto& entry : kv.second) {
        ResourceConfig rc;
        rc.spec = spec;
        rc.name = entry.first.Scalar();
        rc.where = r_.position(entry.first);
        rc.values = r_.read(entry.second, spec->fields, fmt::format("resource {} '{}'", kind, rc.name), spec->functions);
        c.resources.push_back(std::move(rc));
      }
    }
  }

  PipelineConfig read_pipeline(const std::string& name, const YAML::Node& node) {
    PipelineConfig p;
    p.name = name;
    p.where = r_.position(node);
    const std::string what = fmt::format("pipeline '{}'", name);
    if (!node.IsMap()) {
      r_.error(node, fmt::format("{} must be a map with 'input' and 'output' (or 'outputs')", what));
      return p;
    }
    Values own = r_.read(node, pipeline_fields(), what, nullptr, {"input", "processors", "output", "outputs"});
    if (own.has("processor_workers")) p.processor_workers = own.integer("processor_workers");
    if (auto in = node["input"]) {
      p.input.component = read_component(in, Kind::input, input_common_fields(), what);
      Values common = r_.read(in, input_common_fields(), fmt::format("the input of {}", what), nullptr,
                              type_keys(in, input_common_fields()));
      const auto* spec = p.input.component.spec;
      if (spec && spec->readers) {
        p.input.concurrency = spec->readers(p.input.component.values);
        if (common.has("concurrency"))
          r_.diagnostics().error(common.where("concurrency"),
                   fmt::format("the {} input sets its readers itself (see `sluice docs {}`): 'concurrency' does "
                               "not apply to it",
                               spec->name, spec->name));
      } else if (common.has("concurrency")) {
        p.input.concurrency = common.integer("concurrency");
      }
      if (p.input.concurrency > 1 && p.input.component.spec && p.input.component.spec->single_reader)
        r_.error(in, fmt::format("the input of {} ({}) reads alone: 'concurrency' must be 1, not {}", what,
                                 p.input.component.spec->name, p.input.concurrency));
    } else {
      r_.error(node, fmt::format("{} has no 'input'", what));
    }
    if (auto procs = node["processors"]) {
      if (!procs.IsSequence()) {
        r_.error(procs, fmt::format("'processors' of {} must be a list", what));
      } else {
        for (const auto& pn : procs) p.processors.push_back(read_component(pn, Kind::processor, {}, what));
      }
    }
    auto out = node["output"];
    auto outs = node["outputs"];
    if (out && outs) {
      r_.error(outs, fmt::format("{} has both 'output' and 'outputs'; use one", what));
    } else if (out) {
      p.outputs.push_back(read_output(out, what));
    } else if (outs) {
      if (!outs.IsSequence() || outs.size() == 0) {
        r_.error(outs, fmt::format("'outputs' of {} must be a non-empty list of outputs", what));
      } else {
        for (const auto& o : outs) p.outputs.push_back(read_output(o, what));
      }
    } else {
      r_.error(node, fmt::format("{} has no 'output' (or 'outputs')", what));
    }
    return p;
  }

  // Outputs nest through `then` and `dead_letter`; a YAML alias may name
  // one output block twice, and aliases of aliases double at each level (an
  // "alias bomb": 1 KB of YAML naming 2^30 outputs). So nesting is bounded,
  // and so is the whole config's count of outputs read, which fails fast
  // with one error instead of expanding.
  static constexpr int kMaxOutputDepth = 8;
  static constexpr size_t kMaxOutputs = 1000;

  OutputConfig read_output(const YAML::Node& node, const std::string& what, int depth = 0) {
    OutputConfig o;
    if (depth > kMaxOutputDepth) {
      r_.error(node, fmt::format("{} nests outputs more than {} deep through 'then' and 'dead_letter'", what,
                                 kMaxOutputDepth));
      return o;
    }
    if (++outputs_read_ > kMaxOutputs) {
      if (outputs_read_ == kMaxOutputs + 1)
        r_.error(node, fmt::format("the config names more than {} outputs (a YAML alias used many times over?); "
                                   "stopped reading it there",
                                   kMaxOutputs));
      return o;
    }
    std::vector<Field> common = output_common_fields();
    common.push_back({.name = "dead_letter", .type = Type::object});
    common.push_back({.name = "then", .type = Type::object});
    o.component = read_component(node, Kind::output, common, what);
    if (!node.IsMap()) return o;  // read_component said so; there are no settings to read
    auto ignore = type_keys(node, common);
    ignore.push_back("dead_letter");
    ignore.push_back("then");
    Values v = r_.read(node, output_common_fields(), fmt::format("the output of {}", what), nullptr, ignore);
    if (v.has("rate_limit")) {
      o.rate_limit = v.str("rate_limit");
      rate_limit_refs_.emplace_back(o.rate_limit, v.where("rate_limit"));
    }
    if (v.has("max_in_flight")) o.max_in_flight = v.integer("max_in_flight");
    o.adaptive_concurrency = v.has("concurrency") && v.str("concurrency") == "adaptive";
    const Values& b = v.object("batching");
    if (b.has("count")) o.batching.count = b.integer("count");
    if (b.has("bytes")) o.batching.bytes = b.integer("bytes");
    if (b.has("period")) o.batching.period = b.duration("period");
    const Values& rt = v.object("retry");
    if (rt.has("max_attempts")) o.retry.max_attempts = rt.integer("max_attempts");
    if (rt.has("initial")) o.retry.initial = rt.duration("initial");
    if (rt.has("max")) o.retry.max = rt.duration("max");
    if (o.retry.max < o.retry.initial)
      r_.diagnostics().error(rt.where("max"), "field 'max' of retry must not be less than 'initial'");
    if (node.IsMap()) {
      if (auto dl = node["dead_letter"]) {
        o.dead_letter = std::make_shared<OutputConfig>(read_output(dl, "the dead_letter of " + what, depth + 1));
      }
      if (auto then = node["then"]) {
        o.then = std::make_shared<OutputConfig>(read_output(then, "the 'then' of " + what, depth + 1));
      }
    }
    return o;
  }

  // The keys of a component block that are not common fields: the type key.
  static std::vector<std::string> type_keys(const YAML::Node& node, const std::vector<Field>& common) {
    std::vector<std::string> keys;
    if (!node.IsMap()) return keys;
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      bool is_common = std::any_of(common.begin(), common.end(), [&](const Field& f) { return f.name == key; });
      if (!is_common) keys.push_back(key);
    }
    return keys;
  }

  ComponentConfig read_component(const YAML::Node& node, Kind kind, const std::vector<Field>& common,
                                 const std::string& what) {
    ComponentConfig c;
    c.where = r_.position(node);
    const char* k = kind_name(kind);
    if (!node.IsMap()) {
      r_.error(node, fmt::format("{} of {} must be a map naming one {} type", k, what, k));
      return c;
    }
    auto types = type_keys(node, common);
    auto known = registry_.names(kind);
    if (types.empty()) {
      r_.error(node, fmt::format("{} of {} names no {} type (one of: {})", k, what, k, fmt::join(known, ", ")));
      return c;
    }
    if (types.size() > 1) {
      r_.error(node, fmt::format("{} of {} names {} types ('{}'); a block names exactly one", k, what, types.size(),
                                 fmt::join(types, "', '")));
      return c;
    }
    const std::string& type = types.front();
    YAML::Node type_key_node;
    for (const auto& kv : node)
      if (kv.first.Scalar() == type) type_key_node = kv.first;
    c.spec = registry_.find(kind, type);
    if (!c.spec) {
      if (auto hint = core::closest(type, known)) {
        r_.error(type_key_node, fmt::format("unknown {} type '{}'; did you mean '{}'?", k, type, *hint));
      } else {
        r_.error(type_key_node, fmt::format("unknown {} type '{}' (known: {})", k, type, fmt::join(known, ", ")));
      }
      return c;
    }
    c.values = read_values(node[type], *c.spec, fmt::format("{} {}", type, k));
    return c;
  }

  void check_rate_limit_references(const Config& c) {
    std::vector<std::string> defined;
    for (const auto& rl : c.rate_limits) defined.push_back(rl.name);
    for (const auto& [name, where] : rate_limit_refs_) {
      if (std::find(defined.begin(), defined.end(), name) != defined.end()) continue;
      std::string msg = fmt::format("rate limit '{}' is not defined in rate_limits", name);
      if (auto hint = core::closest(name, defined)) {
        msg += fmt::format("; did you mean '{}'?", *hint);
      } else if (!defined.empty()) {
        msg += fmt::format(" (defined: {})", fmt::join(defined, ", "));
      }
      r_.diagnostics().error(where, msg);
    }
  }

  void check_resource_references(const Config& c) {
    for (const auto& ref : resource_refs_) {
      if (c.resource(ref.kind, ref.name)) continue;
      std::vector<std::string> defined;
      for (const auto& r : c.resources)
        if (r.spec->name == ref.kind) defined.push_back(r.name);
      std::string msg = fmt::format("{} resource '{}' is not defined in resources.{}", ref.kind, ref.name, ref.kind);
      if (auto hint = core::closest(ref.name, defined)) {
        msg += fmt::format("; did you mean '{}'?", *hint);
      } else if (!defined.empty()) {
        msg += fmt::format(" (defined: {})", fmt::join(defined, ", "));
      }
      r_.diagnostics().error(ref.where, msg);
    }
  }

  struct ResourceRef {
    std::string kind, name;
    Position where;
  };

  const Registry& registry_;
  YamlReader& r_;
  std::vector<std::pair<std::string, Position>> rate_limit_refs_;
  std::vector<ResourceRef> resource_refs_;
  size_t outputs_read_ = 0;
};

}  // namespace

std::expected<Config, Diagnostics> load_string(const std::string& yaml, const std::string& file_name,
                                               const Registry& registry, const EnvLookup& env) {
  Diagnostics diag;
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    diag.error({file_name, e.mark.line + 1, e.mark.column + 1}, "invalid YAML: " + e.msg);
    return std::unexpected(std::move(diag));
  }
  YamlReader reader(file_name, env, diag);
  Loader loader(registry, reader);
  Config c = loader.load(root);
  if (!diag.ok()) return std::unexpected(std::move(diag));
  return c;
}

std::expected<Config, Diagnostics> load_file(const std::string& path, const Registry& registry, const EnvLookup& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    Diagnostics diag;
    diag.error({path, 0, 0}, "cannot read file: " + std::string(std::strerror(errno)));
    return std::unexpected(std::move(diag));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return load_string(ss.str(), path, registry, env);
}

}  // namespace sluice::config
