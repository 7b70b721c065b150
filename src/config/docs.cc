#include "config/docs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config/config.h"

namespace sluice::config {
namespace {

void render_fields(std::string& out, const std::vector<Field>& fields, const std::string& prefix = "") {
  for (const auto& f : fields) {
    std::string line = fmt::format("  {:<24} {:<16}", prefix + f.name, type_name(f.type));
    if (f.required) {
      line += " required.";
    } else if (f.default_value) {
      line += fmt::format(" default {}.", f.secret ? "(secret)" : "'" + *f.default_value + "'");
    }
    if (!f.choices.empty()) line += fmt::format(" One of: {}.", fmt::join(f.choices, ", "));
    if (f.min) line += fmt::format(" Min {}.", *f.min);
    if (f.max) line += fmt::format(" Max {}.", *f.max);
    if (f.secret) line += " Secret: never printed.";
    if (f.scalar_sets_children) line += " A number sets each of its fields.";
    out += line + " " + f.doc + "\n";
    if (f.type == Type::object) render_fields(out, f.children, prefix + f.name + ".");
  }
}

void render_component(std::string& out, const ComponentSpec& s) {
  out += fmt::format("## {} ({})\n\n{}\n\n", s.name, kind_name(s.kind), s.summary);
  if (s.fields.empty()) {
    out += "No fields.\n";
  } else {
    out += "Fields:\n";
    render_fields(out, s.fields);
  }
  if (!s.details.empty()) out += "\n" + s.details + (s.details.ends_with('\n') ? "" : "\n");
  if (!s.example.empty()) out += "\nExample:\n" + s.example + (s.example.ends_with('\n') ? "" : "\n");
  out += "\n";
}

void render_section(std::string& out, const std::string& title, const std::string& intro,
                    const std::vector<Field>& fields) {
  out += fmt::format("## {}\n\n{}\n\nFields:\n", title, intro);
  render_fields(out, fields);
  out += "\n";
}

}  // namespace

std::optional<std::string> render_docs(const Registry& registry, const std::string& topic) {
  std::string out;
  const bool all = topic.empty();
  if (all) {
    out += "# sluice reference\n\nTopics: config, pipeline, input, output, rate_limits, resources, and each component below.\n\n";
  }
  if (all || topic == "config") {
    render_section(out, "config (top level)", "The sections of a config file.", top_level_fields(registry));
  }
  if (all || topic == "pipeline") {
    render_section(out, "pipeline",
                   "A pipeline has `input`, optional `processors` (a list), and `output` or `outputs` (a list: "
                   "fan-out, acknowledged when every output confirmed).",
                   pipeline_fields());
  }
  if (all || topic == "rate_limits") {
    render_section(out, "rate_limits.<name>",
                   "A token bucket. Outputs use one with `rate_limit: <name>`; the rate_limit processor with "
                   "`resource: <name>`.",
                   rate_limit_fields());
  }
  if (all || topic == "resources") {
    out += "## resources.<kind>.<name>\n\nShared clients: one per entry, used by every component that names it. "
           "Kinds:";
    for (const auto& kind : registry.names(Kind::resource)) out += " " + kind;
    out += " (each documented under its name).\n\n";
  }
  if (all || topic == "input") {
    render_section(out, "input (common fields)", "Siblings of the input's type key.", input_common_fields());
  }
  if (all || topic == "output") {
    render_section(out, "output (common fields)",
                   "Siblings of the output's type key. `dead_letter` is another output block: messages that "
                   "fail for good, or run out of retries, go there with the reason in metadata `error`. `then` "
                   "is another output block that receives each message once this output confirmed it, with the "
                   "metadata the output set (e.g. `twilio_sid`); the source is acked when both confirmed.",
                   output_common_fields());
  }
  bool found = !out.empty();
  for (const auto& s : registry.all()) {
    if (all || s.name == topic) {
      render_component(out, s);
      found = true;
    }
  }
  if (!found) return std::nullopt;
  return out;
}

}  // namespace sluice::config
