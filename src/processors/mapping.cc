// mapping: sets fields of the JSON body from templates and deletes fields.
#include <boost/json.hpp>

#include "processors/processors.h"
#include "runtime/component.h"

namespace sluice::processors {
namespace {

struct Assignment {
  std::vector<std::string> path;
  tmpl::Template value;
};

// The object that holds the last path segment, creating objects on the way.
// A non-object in the way is replaced: the mapping says what the shape is.
boost::json::object& parent_for(boost::json::value& root, const std::vector<std::string>& path) {
  boost::json::value* v = &root;
  if (!v->is_object()) *v = boost::json::object();
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    auto& obj = v->as_object();
    v = &obj[path[i]];
    if (!v->is_object()) *v = boost::json::object();
  }
  return v->as_object();
}

class Mapping final : public runtime::Processor {
 public:
  explicit Mapping(const config::Values& v) {
    if (v.has("set"))
      for (const auto& [name, t] : v.tmpl_map("set")) set_.push_back({tmpl::split_path(name), t});
    if (v.has("delete"))
      for (const auto& name : v.list("delete")) delete_.push_back(tmpl::split_path(name));
  }

  runtime::Task<void> process(core::Batch& batch, std::vector<runtime::Failure>& failures) override {
    batch.retain([&](core::Message& m) {
      auto done = apply(m);
      if (!done) failures.push_back({std::move(m), std::move(done.error())});
      return done.has_value();
    });
    co_return;
  }

 private:
  core::Result<void> apply(core::Message& m) {
    // Render everything from the message as it was, then edit: assignments
    // do not see each other's results, whatever their order.
    std::vector<boost::json::value> values;
    values.reserve(set_.size());
    for (const auto& a : set_) {
      if (const auto* whole = a.value.single_field(m)) {
        values.push_back(*whole);  // keeps numbers numbers
        continue;
      }
      auto text = a.value.render(m);
      if (!text) return std::unexpected(text.error());
      values.emplace_back(boost::json::string(*text));
    }
    auto& root = m.mutable_json();
    for (size_t i = 0; i < set_.size(); ++i) parent_for(root, set_[i].path)[set_[i].path.back()] = std::move(values[i]);
    for (const auto& path : delete_) {
      boost::json::value* parent = &root;
      for (size_t i = 0; parent && i + 1 < path.size(); ++i) {
        auto* obj = parent->if_object();
        auto it = obj ? obj->find(path[i]) : nullptr;
        parent = (obj && it != obj->end()) ? &it->value() : nullptr;
      }
      if (parent && parent->is_object()) parent->as_object().erase(path.back());
    }
    return {};
  }

  std::vector<Assignment> set_;
  std::vector<std::vector<std::string>> delete_;
};

}  // namespace

config::ComponentSpec mapping_spec() {
  using config::Type;
  return {
      .name = "mapping",
      .kind = config::Kind::processor,
      .summary = "Sets fields of the JSON body from templates and deletes fields. A template that is exactly one "
                 "field reference copies that value with its type; others produce strings. Dotted names reach "
                 "into nested objects. A non-JSON payload becomes an object. A `| required` field that is missing "
                 "fails the message (dead letter, or nack).",
      .fields = {{.name = "set", .type = Type::tmpl_map, .doc = "Field name -> template."},
                 {.name = "delete", .type = Type::string_list, .doc = "Field names to remove."}},
      .example = "processors:\n  - mapping: {set: {to: \"{{recipient | required}}\", channel: sms}, delete: [recipient]}",
      .validate =
          [](const config::Values& v) {
            if (!v.has("set") && !v.has("delete")) throw v.error("set", "mapping needs 'set' or 'delete'");
          },
      .make_processor = runtime::build<Mapping>,
  };
}

}  // namespace sluice::processors
