#pragma once
// `{{path}}` templates, compiled once when the config loads and rendered per
// message.
//
//   {{to}}            field `to` of the message's JSON body
//   {{user.phones.0}} nested fields and array indices
//   {{meta.key}}      metadata value `key`
//   {{to | required}} the message errors (Errc::missing_field) when absent;
//                     without `required` a missing field renders as empty
//   {{seq}}           a function, where the component offers one (generate)
//
// A string value renders as its characters, other JSON values as JSON text.
// Threads: a compiled Template is immutable and may be shared.

#include <boost/json/fwd.hpp>

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/message_fwd.h"

namespace sluice::tmpl {

// Functions a component offers to its templates, e.g. generate's {{seq}}.
class Functions {
 public:
  virtual ~Functions() = default;
  // Index of `name` in this set, or -1.
  virtual int find(std::string_view name) const = 0;
  virtual void call(int index, std::string& out) = 0;
};

class Template {
 public:
  Template() = default;
  // Returns a message saying what is wrong and at which character.
  static std::expected<Template, std::string> compile(std::string_view text, const Functions* functions = nullptr);

  // Appends the rendering to `out`.
  core::Result<void> render_to(const core::Message& m, std::string& out, Functions* functions = nullptr) const;
  core::Result<std::string> render(const core::Message& m, Functions* functions = nullptr) const;

  // The JSON value when the whole template is one field reference, so that
  // copying `{{count}}` keeps a number a number; nullptr otherwise or absent.
  const boost::json::value* single_field(const core::Message& m) const;
  bool is_single_field() const { return parts_.size() == 1 && parts_[0].kind == Kind::field; }
  const std::string& source() const { return source_; }

 private:
  enum class Kind { literal, field, meta, function };
  struct Part {
    Kind kind;
    std::string text;               // literal text or meta key
    std::vector<std::string> path;  // field path
    int function = -1;
    bool required = false;
  };
  std::string source_;
  std::vector<Part> parts_;
};

// Looks up a dotted path in a JSON value; numeric segments index arrays.
const boost::json::value* find_path(const boost::json::value& root, const std::vector<std::string>& path);
std::vector<std::string> split_path(std::string_view dotted);
// Appends a JSON value as template text (strings unquoted).
void append_value(const boost::json::value& v, std::string& out);

}  // namespace sluice::tmpl
