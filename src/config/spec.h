#pragma once
// One spec per component: the single source that parses, defaults,
// validates and documents its fields. `sluice run`, `sluice lint` and
// `sluice docs` all read these.
//
// A component's factory receives validated, typed Values and never sees
// YAML. The factory signatures name runtime types that are only forward
// declared here, so config does not depend on the runtime.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "config/diagnostics.h"
#include "template/template.h"

namespace sluice::ratelimit {
class Backend;
}
namespace sluice::runtime {
class Input;
class Processor;
class Output;
class Resource;
class BuildContext;
}  // namespace sluice::runtime

namespace sluice::config {

enum class Type {
  string,
  integer,
  number,
  boolean,
  duration,     // "500ms" -> nanoseconds
  size,         // "1MiB" -> bytes (integer)
  rate,         // "100/s" -> per second (number)
  tmpl,         // a {{template}} string, compiled at load
  string_list,  // [a, b]
  tmpl_map,     // {key: "{{template}}"}, order kept
  tmpl_list,    // ["{{template}}", ...]
  object,       // nested fields (Field::children)
};

const char* type_name(Type t);

struct Field {
  std::string name;
  Type type = Type::string;
  std::string doc;
  std::optional<std::string> default_value;  // as written in YAML, e.g. "30s"
  bool required = false;
  bool secret = false;  // never printed back: not in errors, logs or docs defaults
  std::optional<double> min, max;
  std::vector<std::string> choices;  // allowed values of a string field
  std::vector<Field> children;       // for Type::object
  bool allow_functions = false;      // template may use the component's functions
  bool names_rate_limit = false;     // value must name an entry of rate_limits
  std::string names_resource;        // value must name an entry of resources.<this kind>
  // An object whose children may all be given by one scalar: `receivers: 8`
  // reads as `receivers: {min: 8, max: 8}`.
  bool scalar_sets_children = false;
};

class Values;
using TemplateMap = std::vector<std::pair<std::string, tmpl::Template>>;
using Value = std::variant<std::monostate, std::string, int64_t, double, bool, std::chrono::nanoseconds,
                           tmpl::Template, std::vector<std::string>, TemplateMap, std::vector<tmpl::Template>,
                           std::shared_ptr<Values>>;

// Validated field values of one component, with where each came from.
class Values {
 public:
  bool has(const std::string& name) const;
  const std::string& str(const std::string& name) const;
  int64_t integer(const std::string& name) const;
  double number(const std::string& name) const;
  bool boolean(const std::string& name) const;
  std::chrono::nanoseconds duration(const std::string& name) const;
  const tmpl::Template& tmpl(const std::string& name) const;
  const std::vector<std::string>& list(const std::string& name) const;
  const TemplateMap& tmpl_map(const std::string& name) const;
  const std::vector<tmpl::Template>& tmpl_list(const std::string& name) const;
  const Values& object(const std::string& name) const;
  // Where `name` was written (or the component block, for defaults).
  Position where(const std::string& name) const;
  // Builds an error for `name` to throw from a factory.
  ConfigError error(const std::string& name, std::string message) const;

  void set(std::string name, Value v, Position where);
  void set_block(Position where) { block_ = std::move(where); }
  const Position& block() const { return block_; }

 private:
  const Value& get(const std::string& name) const;
  std::map<std::string, std::pair<Value, Position>> values_;
  Position block_;
};

// resource: a shared client (one per named entry of `resources`), used by
// inputs, outputs, rate limits and stores that name it.
// rate_limit_backend: where a rate limit keeps its buckets (`local` in this
// process; a shared one keeps the limit for a fleet), named by a key in the
// rate limit's block.
enum class Kind { input, processor, output, resource, rate_limit_backend };

struct RateLimitConfig;
const char* kind_name(Kind k);

using InputFactory = std::function<std::unique_ptr<runtime::Input>(const Values&, runtime::BuildContext&)>;
using ProcessorFactory = std::function<std::unique_ptr<runtime::Processor>(const Values&, runtime::BuildContext&)>;
using OutputFactory = std::function<std::unique_ptr<runtime::Output>(const Values&, runtime::BuildContext&)>;
using ResourceFactory = std::function<std::shared_ptr<runtime::Resource>(const Values&, runtime::BuildContext&)>;
// Values: the backend's own block; the RateLimitConfig: rate, burst, key, max_keys.
using RateLimitBackendFactory = std::function<std::unique_ptr<ratelimit::Backend>(
    const Values&, const RateLimitConfig&, runtime::BuildContext&)>;

struct ComponentSpec {
  std::string name;
  Kind kind;
  std::string summary;
  std::vector<Field> fields;
  std::string example;  // YAML snippet for docs
  // Prose `sluice docs <name>` prints after the fields: what it costs, how
  // to size it.
  std::string details;
  // A block given as a scalar stands for this one field (`redis:
  // "redis://host"` for `redis: {url: ...}`); empty: a block is a map.
  std::string shorthand_field;
  // Names the component's templates may call, e.g. generate's {{seq}}.
  const tmpl::Functions* functions = nullptr;
  // Checks across fields that the field specs cannot express; throws
  // ConfigError. Run by the loader, so `sluice lint` reports these too.
  std::function<void(const Values&)> validate;
  // An input whose readers would race (one cursor over a store): the loader
  // refuses `concurrency` above 1 for it.
  bool single_reader = false;
  // Readers the input's own fields ask for (sqs: receivers.max: several long
  // polls waiting at once), used when the config gives no `concurrency`; 1
  // without it.
  std::function<int64_t(const Values&)> readers;
  InputFactory make_input;
  ProcessorFactory make_processor;
  OutputFactory make_output;
  ResourceFactory make_resource;
  RateLimitBackendFactory make_rate_limit_backend;
};

// A top-level section of the config that a feature owns (e.g. `alerts`).
// The loader reads it like a component's fields (defaults filled, unknown
// keys refused) into Config::sections; `sluice docs config` lists it; the
// feature reads its Values. Config core knows nothing of the feature.
struct SectionSpec {
  std::string name;
  std::string doc;
  std::vector<Field> fields;
};

}  // namespace sluice::config
