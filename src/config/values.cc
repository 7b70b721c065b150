#include "config/spec.h"

#include <fmt/format.h>

#include <cassert>

namespace sluice::config {

const char* type_name(Type t) {
  switch (t) {
    case Type::string: return "string";
    case Type::integer: return "integer";
    case Type::number: return "number";
    case Type::boolean: return "boolean";
    case Type::duration: return "duration";
    case Type::size: return "size";
    case Type::rate: return "rate";
    case Type::tmpl: return "template";
    case Type::string_list: return "list of strings";
    case Type::tmpl_map: return "map of templates";
    case Type::tmpl_list: return "list of templates";
    case Type::object: return "object";
  }
  return "?";
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::input: return "input";
    case Kind::processor: return "processor";
    case Kind::output: return "output";
    case Kind::resource: return "resource";
    case Kind::rate_limit_backend: return "rate limit backend";
  }
  return "?";
}

bool Values::has(const std::string& name) const {
  auto it = values_.find(name);
  return it != values_.end() && !std::holds_alternative<std::monostate>(it->second.first);
}

const Value& Values::get(const std::string& name) const {
  auto it = values_.find(name);
  // Specs guarantee presence; a miss is a bug in a factory, not user error.
  assert(it != values_.end() && "field not in spec");
  static const Value empty;
  return it == values_.end() ? empty : it->second.first;
}

template <class T>
static const T& as(const Value& v, const std::string& name) {
  if (const T* p = std::get_if<T>(&v)) return *p;
  throw std::logic_error(fmt::format("config field '{}' read with the wrong type", name));
}

const std::string& Values::str(const std::string& n) const { return as<std::string>(get(n), n); }
int64_t Values::integer(const std::string& n) const { return as<int64_t>(get(n), n); }
double Values::number(const std::string& n) const {
  const Value& v = get(n);
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  return as<double>(v, n);
}
bool Values::boolean(const std::string& n) const { return as<bool>(get(n), n); }
std::chrono::nanoseconds Values::duration(const std::string& n) const {
  return as<std::chrono::nanoseconds>(get(n), n);
}
const tmpl::Template& Values::tmpl(const std::string& n) const { return as<tmpl::Template>(get(n), n); }
const std::vector<std::string>& Values::list(const std::string& n) const {
  return as<std::vector<std::string>>(get(n), n);
}
const TemplateMap& Values::tmpl_map(const std::string& n) const { return as<TemplateMap>(get(n), n); }
const std::vector<tmpl::Template>& Values::tmpl_list(const std::string& n) const {
  return as<std::vector<tmpl::Template>>(get(n), n);
}
const Values& Values::object(const std::string& n) const { return *as<std::shared_ptr<Values>>(get(n), n); }

Position Values::where(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? block_ : it->second.second;
}

ConfigError Values::error(const std::string& name, std::string message) const {
  return ConfigError(where(name), std::move(message));
}

void Values::set(std::string name, Value v, Position where) {
  values_[std::move(name)] = {std::move(v), std::move(where)};
}

}  // namespace sluice::config
