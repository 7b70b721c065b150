// filter: keeps messages whose field equals a value, matches a regex, or
// exists; the others are acknowledged as delivered (filtered out).
#include "processors/processors.h"
#include "processors/regex.h"
#include "runtime/component.h"

namespace sluice::processors {
namespace {

class Filter final : public runtime::Processor {
 public:
  explicit Filter(const config::Values& v)
      : field_(tmpl::Template::compile("{{" + v.str("field") + "}}").value()),
        meta_key_(v.str("field").starts_with("meta.") ? v.str("field").substr(5) : ""),
        path_(tmpl::split_path(v.str("field"))),
        invert_(v.boolean("invert")) {
    if (v.has("equals")) equals_ = v.str("equals");
    if (v.has("exists")) exists_ = v.boolean("exists");
    if (v.has("matches")) {
      auto compiled = Regex::compile(v.str("matches"));
      if (!compiled) throw v.error("matches", "invalid regular expression: " + compiled.error());
      matches_ = std::move(*compiled);
    }
  }

  runtime::Task<void> process(core::Batch& batch, std::vector<runtime::Failure>&) override {
    batch.retain([&](core::Message& m) {
      if (keep(m) != invert_) return true;
      m.ack().resolve(core::AckStatus::delivered);  // filtered out counts as delivered
      return false;
    });
    co_return;
  }

 private:
  bool present(const core::Message& m) const {
    if (!meta_key_.empty()) return m.meta().find(meta_key_) != nullptr;
    const auto* root = m.json();
    return root && tmpl::find_path(*root, path_) != nullptr;
  }

  bool keep(const core::Message& m) const {
    if (exists_) return present(m) == *exists_;
    if (!present(m)) return false;
    auto value = field_.render(m);
    if (!value) return false;
    if (equals_) return *value == *equals_;
    return matches_->search(*value);
  }

  tmpl::Template field_;
  std::string meta_key_;
  std::vector<std::string> path_;
  bool invert_;
  std::optional<std::string> equals_;
  std::optional<bool> exists_;
  std::optional<Regex> matches_;
};

}  // namespace

config::ComponentSpec filter_spec() {
  using config::Type;
  return {
      .name = "filter",
      .kind = config::Kind::processor,
      .summary = "Keeps the messages whose field satisfies one condition (equals, matches or exists) and "
                 "acknowledges the others as delivered. The field is a JSON path (`status`, `a.b`) or "
                 "`meta.key`; non-string values compare as JSON text.",
      .fields = {{.name = "field", .doc = "Field to test.", .required = true},
                 {.name = "equals", .doc = "Keep when the field's value is exactly this."},
                 {.name = "matches", .doc = "Keep when the field's value matches this ECMAScript regex."},
                 {.name = "exists", .type = Type::boolean, .doc = "Keep when the field is present (true) or absent (false)."},
                 {.name = "invert", .type = Type::boolean, .doc = "Keep the messages that fail the condition instead.",
                  .default_value = "false"}},
      .example = "processors:\n  - filter: {field: MessageStatus, matches: '^(delivered|undelivered|failed)$'}",
      .validate =
          [](const config::Values& v) {
            const int conditions = v.has("equals") + v.has("matches") + v.has("exists");
            if (conditions != 1)
              throw v.error("field", "filter needs exactly one of 'equals', 'matches' or 'exists'");
            if (!tmpl::Template::compile("{{" + v.str("field") + "}}"))
              throw v.error("field", "'" + v.str("field") + "' is not a field path like status, a.b or meta.key");
            Filter check(v);  // compiles the regex: throws on a bad one
          },
      .make_processor = runtime::build<Filter>,
  };
}

}  // namespace sluice::processors
