#include "core/message.h"
#include "template/template.h"

#include <boost/json.hpp>

#include <charconv>

namespace sluice::tmpl {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool valid_path(std::string_view p) {
  if (p.empty() || p.front() == '.' || p.back() == '.' || p.find("..") != std::string_view::npos) return false;
  return std::all_of(p.begin(), p.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

}  // namespace

std::vector<std::string> split_path(std::string_view dotted) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= dotted.size()) {
    size_t dot = dotted.find('.', start);
    if (dot == std::string_view::npos) dot = dotted.size();
    out.emplace_back(dotted.substr(start, dot - start));
    start = dot + 1;
  }
  return out;
}

const boost::json::value* find_path(const boost::json::value& root, const std::vector<std::string>& path) {
  const boost::json::value* v = &root;
  for (const auto& key : path) {
    if (const auto* obj = v->if_object()) {
      auto it = obj->find(key);
      if (it == obj->end()) return nullptr;
      v = &it->value();
    } else if (const auto* arr = v->if_array()) {
      size_t index = 0;
      auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), index);
      if (ec != std::errc() || p != key.data() + key.size() || index >= arr->size()) return nullptr;
      v = &(*arr)[index];
    } else {
      return nullptr;
    }
  }
  return v;
}

void append_value(const boost::json::value& v, std::string& out) {
  if (const auto* s = v.if_string()) {
    out.append(s->data(), s->size());
  } else if (!v.is_null()) {
    out += boost::json::serialize(v);
  }
}

std::expected<Template, std::string> Template::compile(std::string_view text, const Functions* functions) {
  Template t;
  t.source_ = std::string(text);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) open = text.size();
    if (open > pos) t.parts_.push_back({Kind::literal, std::string(text.substr(pos, open - pos)), {}, -1, false});
    if (open == text.size()) break;
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos)
      return std::unexpected("unclosed '{{' at character " + std::to_string(open + 1));
    std::string_view inner = trim(text.substr(open + 2, close - open - 2));
    bool required = false;
    if (size_t bar = inner.find('|'); bar != std::string_view::npos) {
      std::string_view filter = trim(inner.substr(bar + 1));
      if (filter != "required")
        return std::unexpected("unknown filter '" + std::string(filter) + "' at character " +
                               std::to_string(open + 1) + " (only 'required' exists)");
      required = true;
      inner = trim(inner.substr(0, bar));
    }
    if (!valid_path(inner))
      return std::unexpected("bad field reference '{{" + std::string(inner) + "}}' at character " +
                             std::to_string(open + 1));
    Part part{Kind::field, {}, {}, -1, required};
    if (int fn = functions ? functions->find(inner) : -1; fn >= 0) {
      part.kind = Kind::function;
      part.function = fn;
    } else if (inner.starts_with("meta.")) {
      part.kind = Kind::meta;
      part.text = std::string(inner.substr(5));
    } else {
      part.path = split_path(inner);
      part.text = std::string(inner);
    }
    t.parts_.push_back(std::move(part));
    pos = close + 2;
  }
  return t;
}

core::Result<void> Template::render_to(const core::Message& m, std::string& out, Functions* functions) const {
  for (const auto& part : parts_) {
    switch (part.kind) {
      case Kind::literal:
        out += part.text;
        break;
      case Kind::function:
        functions->call(part.function, out);
        break;
      case Kind::meta:
        if (const auto* v = m.meta().find(part.text)) {
          out += *v;
        } else if (part.required) {
          return core::fail(core::Errc::missing_field, "meta." + part.text);
        }
        break;
      case Kind::field: {
        const auto* root = m.json();
        const auto* v = root ? find_path(*root, part.path) : nullptr;
        if (v) {
          append_value(*v, out);
        } else if (part.required) {
          return core::fail(core::Errc::missing_field, part.text);
        }
        break;
      }
    }
  }
  return {};
}

core::Result<std::string> Template::render(const core::Message& m, Functions* functions) const {
  std::string out;
  if (auto r = render_to(m, out, functions); !r) return std::unexpected(r.error());
  return out;
}

const boost::json::value* Template::single_field(const core::Message& m) const {
  if (!is_single_field()) return nullptr;
  const auto* root = m.json();
  return root ? find_path(*root, parts_[0].path) : nullptr;
}

}  // namespace sluice::tmpl
