#include "config/yaml_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <cmath>
#include <set>

#include "core/closest.h"

namespace sluice::config {
namespace {

const char* node_kind(const YAML::Node& n) {
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  if (n.IsNull()) return "nothing";
  return "a scalar";
}

std::string format_number(double v) { return fmt::format("{}", v); }

}  // namespace

Position YamlReader::position(const YAML::Node& node) const {
  const auto m = node.Mark();
  if (m.line < 0) return {file_, 0, 0};
  return {file_, m.line + 1, m.column + 1};
}

std::optional<std::string> YamlReader::scalar(const YAML::Node& node, const std::string& field) {
  if (!node.IsScalar()) {
    error(node, fmt::format("field '{}' must be a single value, got {}", field, node_kind(node)));
    return std::nullopt;
  }
  auto text = interpolate_env(node.Scalar(), env_);
  if (!text) {
    // Interpolation errors name a variable, never a value, so secrets are safe.
    error(node, fmt::format("field '{}': {}", field, text.error()));
    return std::nullopt;
  }
  return *text;
}

std::optional<Value> YamlReader::convert_text(const std::string& text, const YAML::Node& node, const Field& f,
                                              const tmpl::Functions* functions) {
  const std::string got = f.secret ? "" : fmt::format(", got '{}'", text);
  auto check_range = [&](double v) -> bool {
    if (f.min && v < *f.min) {
      error(node, fmt::format("field '{}' must be >= {}{}", f.name, format_number(*f.min), got));
      return false;
    }
    if (f.max && v > *f.max) {
      error(node, fmt::format("field '{}' must be <= {}{}", f.name, format_number(*f.max), got));
      return false;
    }
    return true;
  };
  switch (f.type) {
    case Type::string:
      if (!f.choices.empty() && std::find(f.choices.begin(), f.choices.end(), text) == f.choices.end()) {
        error(node, fmt::format("field '{}' must be one of: {}{}", f.name, fmt::join(f.choices, ", "),
                                f.secret ? "" : fmt::format("; got '{}'", text)));
        return std::nullopt;
      }
      return Value(text);
    case Type::integer: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size()) {
        error(node, fmt::format("field '{}' must be an integer{}", f.name, got));
        return std::nullopt;
      }
      if (!check_range(static_cast<double>(v))) return std::nullopt;
      return Value(v);
    }
    case Type::number: {
      double v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v)) {
        error(node, fmt::format("field '{}' must be a number{}", f.name, got));
        return std::nullopt;
      }
      if (!check_range(v)) return std::nullopt;
      return Value(v);
    }
    case Type::boolean:
      if (text == "true") return Value(true);
      if (text == "false") return Value(false);
      error(node, fmt::format("field '{}' must be true or false{}", f.name, got));
      return std::nullopt;
    case Type::duration: {
      auto d = parse_duration(text);
      if (!d) {
        error(node, fmt::format("field '{}' must be a duration like 500ms, 30s or 5m, up to 100 years{}", f.name, got));
        return std::nullopt;
      }
      if (!check_range(static_cast<double>(d->count()) / 1e9)) return std::nullopt;
      return Value(*d);
    }
    case Type::size: {
      auto s = parse_size(text);
      if (!s) {
        error(node, fmt::format("field '{}' must be a size like 512KiB or 1MB{}", f.name, got));
        return std::nullopt;
      }
      if (!check_range(static_cast<double>(*s))) return std::nullopt;
      return Value(static_cast<int64_t>(*s));
    }
    case Type::rate: {
      auto r = parse_rate_per_second(text);
      if (!r) {
        error(node, fmt::format("field '{}' must be a rate like 100/s, 20/min or 1000/h, at least 1/d{}", f.name, got));
        return std::nullopt;
      }
      return Value(*r);
    }
    case Type::tmpl: {
      auto t = tmpl::Template::compile(text, f.allow_functions ? functions : nullptr);
      if (!t) {
        error(node, fmt::format("field '{}': {}", f.name, t.error()));
        return std::nullopt;
      }
      return Value(std::move(*t));
    }
    default:
      return std::nullopt;
  }
}

std::optional<Value> YamlReader::convert(const YAML::Node& node, const Field& f, const tmpl::Functions* functions) {
  switch (f.type) {
    case Type::string_list: {
      if (!node.IsSequence()) {
        error(node, fmt::format("field '{}' must be a list of strings, got {}", f.name, node_kind(node)));
        return std::nullopt;
      }
      std::vector<std::string> items;
      for (const auto& item : node) {
        auto s = scalar(item, f.name);
        if (!s) return std::nullopt;
        items.push_back(std::move(*s));
      }
      return Value(std::move(items));
    }
    case Type::tmpl_list: {
      if (!node.IsSequence()) {
        error(node, fmt::format("field '{}' must be a list of templates, got {}", f.name, node_kind(node)));
        return std::nullopt;
      }
      std::vector<tmpl::Template> items;
      for (size_t i = 0; i < node.size(); ++i) {
        const std::string name = fmt::format("{}[{}]", f.name, i);
        auto text = scalar(node[i], name);
        if (!text) return std::nullopt;
        auto t = tmpl::Template::compile(*text);
        if (!t) {
          error(node[i], fmt::format("field '{}': {}", name, t.error()));
          return std::nullopt;
        }
        items.push_back(std::move(*t));
      }
      return Value(std::move(items));
    }
    case Type::tmpl_map: {
      if (!node.IsMap()) {
        error(node, fmt::format("field '{}' must be a map of field names to templates, got {}", f.name,
                                node_kind(node)));
        return std::nullopt;
      }
      TemplateMap map;
      for (const auto& kv : node) {
        auto key = kv.first.Scalar();
        auto text = scalar(kv.second, f.name + "." + key);
        if (!text) return std::nullopt;
        auto t = tmpl::Template::compile(*text);
        if (!t) {
          error(kv.second, fmt::format("field '{}.{}': {}", f.name, key, t.error()));
          return std::nullopt;
        }
        map.emplace_back(key, std::move(*t));
      }
      return Value(std::move(map));
    }
    case Type::object: {
      if (f.scalar_sets_children && node.IsScalar()) {
        YAML::Node each(YAML::NodeType::Map);
        for (const auto& child : f.children) each[child.name] = node;
        auto nested = std::make_shared<Values>(read(each, f.children, f.name, functions));
        return Value(std::move(nested));
      }
      if (!node.IsMap() && !node.IsNull()) {
        error(node, fmt::format("field '{}' must be a map, got {}", f.name, node_kind(node)));
        return std::nullopt;
      }
      auto nested = std::make_shared<Values>(read(node, f.children, f.name, functions));
      return Value(std::move(nested));
    }
    default: {
      auto text = scalar(node, f.name);
      if (!text) return std::nullopt;
      return convert_text(*text, node, f, functions);
    }
  }
}

Values YamlReader::read(const YAML::Node& node, const std::vector<Field>& fields, const std::string& what,
                        const tmpl::Functions* functions, const std::vector<std::string>& ignore) {
  Values values;
  values.set_block(position(node));
  // Not a map: said once; its fields get their defaults below, as if absent.
  const bool refused_block = !node.IsMap() && !node.IsNull() && node.IsDefined();
  if (refused_block) error(node, fmt::format("{} must be a map of settings, got {}", what, node_kind(node)));
  std::vector<std::string> names;
  for (const auto& f : fields) names.push_back(f.name);
  for (const auto& key : ignore)
    if (std::find(names.begin(), names.end(), key) == names.end()) names.push_back(key);
  // Every key once (YAML allows repeats; we do not), and the fields read.
  std::set<std::string> keys, read_ok;
  if (node.IsMap()) {
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      if (!keys.insert(key).second) {
        error(kv.first, fmt::format("field '{}' is set twice in {}", key, what));
        continue;
      }
      if (std::find(ignore.begin(), ignore.end(), key) != ignore.end()) continue;
      auto it = std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.name == key; });
      if (it == fields.end()) {
        if (auto hint = core::closest(key, names)) {
          error(kv.first, fmt::format("unknown field '{}' in {}; did you mean '{}'?", key, what, *hint));
        } else if (names.empty()) {
          error(kv.first, fmt::format("unknown field '{}' in {}, which takes no fields", key, what));
        } else {
          error(kv.first, fmt::format("unknown field '{}' in {} (fields: {})", key, what, fmt::join(names, ", ")));
        }
        continue;
      }
      if (auto v = convert(kv.second, *it, functions)) {
        values.set(key, std::move(*v), position(kv.second));
        read_ok.insert(key);
      }
    }
  }
  // Fields not given, or given but refused (their error is out already),
  // still get a value of their type, so the loader can go on to find more.
  for (const auto& f : fields) {
    if (read_ok.count(f.name)) continue;
    if (f.type == Type::object) {
      values.set(f.name, std::make_shared<Values>(read(YAML::Node(), f.children, f.name, functions)),
                 values.block());
    } else if (f.default_value) {
      YAML::Node def(*f.default_value);
      if (auto v = convert_text(*f.default_value, def, f, functions)) values.set(f.name, std::move(*v), values.block());
    } else if (f.required && !keys.count(f.name) && !refused_block) {
      diag_.error(values.block(), fmt::format("missing required field '{}' in {}", f.name, what));
    } else {
      values.set(f.name, std::monostate{}, values.block());
    }
  }
  return values;
}

}  // namespace sluice::config
