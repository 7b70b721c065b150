#pragma once
// Reads YAML nodes against field specs. Internal to the config module: the
// rest of sluice sees only Values.

#include <yaml-cpp/yaml.h>

#include "config/diagnostics.h"
#include "config/spec.h"
#include "config/units.h"

namespace sluice::config {

class YamlReader {
 public:
  YamlReader(std::string file, EnvLookup env, Diagnostics& diag)
      : file_(std::move(file)), env_(std::move(env)), diag_(diag) {}

  Position position(const YAML::Node& node) const;
  // The scalar's text with ${VAR} expanded; reports and returns nullopt on error.
  std::optional<std::string> scalar(const YAML::Node& node, const std::string& field);
  // Validates `node` (a map, or null for "no settings") against `fields`.
  // `what` names the block in messages, e.g. "generate input".
  Values read(const YAML::Node& node, const std::vector<Field>& fields, const std::string& what,
              const tmpl::Functions* functions = nullptr, const std::vector<std::string>& ignore = {});
  void error(const YAML::Node& node, std::string message) { diag_.error(position(node), std::move(message)); }
  Diagnostics& diagnostics() { return diag_; }
  const std::string& file() const { return file_; }

 private:
  std::optional<Value> convert(const YAML::Node& node, const Field& f, const tmpl::Functions* functions);
  std::optional<Value> convert_text(const std::string& text, const YAML::Node& node, const Field& f,
                                    const tmpl::Functions* functions);

  std::string file_;
  EnvLookup env_;
  Diagnostics& diag_;
};


}  // namespace sluice::config
