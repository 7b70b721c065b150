#include "connectors/elasticsearch/bulk.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/json_text.h"

namespace sluice::connectors::elasticsearch {
namespace json = boost::json;

namespace {

const char* name_of(Action a) {
  switch (a) {
    case Action::index: return "index";
    case Action::create: return "create";
    case Action::update: return "update";
  }
  return "index";
}

std::string string_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// An error object's "type: reason", with the first cause's when it has one
// (Elasticsearch nests the useful part of a mapping error in caused_by).
std::string describe(const json::object& error) {
  std::string out = string_at(error, "type");
  const std::string reason = string_at(error, "reason");
  if (!reason.empty()) out += (out.empty() ? "" : ": ") + reason;
  if (const auto* cause = error.if_contains("caused_by"); cause && cause->is_object()) {
    const std::string inner = string_at(cause->as_object(), "reason");
    if (!inner.empty() && inner != reason) out += " (" + inner + ")";
  }
  return out;
}

}  // namespace

void append_operation(std::string& body, Action action, const Target& target, std::string_view document) {
  body += "{\"";
  body += name_of(action);
  body += "\":{\"_index\":";
  core::append_json_string(body, target.index);
  if (!target.id.empty()) {
    body += ",\"_id\":";
    core::append_json_string(body, target.id);
  }
  if (!target.routing.empty()) {
    body += ",\"routing\":";
    core::append_json_string(body, target.routing);
  }
  body += "}}\n";
  if (action == Action::update) {
    body += "{\"doc\":";
    body += document;
    body += ",\"doc_as_upsert\":true}\n";
  } else {
    body += document;
    body += '\n';
  }
}

core::Result<std::vector<ItemResult>> parse_response(std::string_view body, size_t expected) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object())
    return core::fail(core::Errc::invalid_payload,
                      fmt::format("the bulk answer is not a JSON object: {:.200}", body));
  const auto* items = v.as_object().if_contains("items");
  if (!items || !items->is_array())
    return core::fail(core::Errc::invalid_payload, fmt::format("the bulk answer has no items: {:.200}", body));
  const auto& array = items->as_array();
  if (array.size() != expected)
    return core::fail(core::Errc::invalid_payload,
                      fmt::format("the bulk answer has {} items for {} operations", array.size(), expected));
  std::vector<ItemResult> out;
  out.reserve(array.size());
  for (const auto& item : array) {
    // {"index": {...}}: one key, the action, whose value is the result.
    if (!item.is_object() || item.as_object().size() != 1 || !item.as_object().begin()->value().is_object())
      return core::fail(core::Errc::invalid_payload, "a bulk answer item is not {\"<action>\": {...}}");
    const auto& r = item.as_object().begin()->value().as_object();
    ItemResult result;
    const auto* status = r.if_contains("status");
    if (!status || !status->is_int64())
      return core::fail(core::Errc::invalid_payload, "a bulk answer item has no status");
    result.status = static_cast<int>(status->as_int64());
    result.id = string_at(r, "_id");
    if (const auto* error = r.if_contains("error")) {
      if (error->is_object()) {
        result.error_type = string_at(error->as_object(), "type");
        result.reason = describe(error->as_object());
      } else {
        result.error_type = "error";
        result.reason = error->is_string() ? std::string(error->as_string()) : json::serialize(*error);
      }
    }
    out.push_back(std::move(result));
  }
  return out;
}

runtime::WriteOutcome outcome_of(const ItemResult& item) {
  if (item.status >= 200 && item.status < 300 && item.error_type.empty()) return runtime::WriteOutcome::ok();
  const std::string why = fmt::format("Elasticsearch refused the document (HTTP {}): {}", item.status,
                                      item.reason.empty() ? "no reason given" : item.reason);
  if (item.status == 429) return runtime::WriteOutcome::overload(why);
  if (item.status >= 500 || item.status < 200) return runtime::WriteOutcome::retry(why);
  return runtime::WriteOutcome::reject(why);
}

std::string error_of(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object())
    if (const auto* e = v.as_object().if_contains("error")) {
      if (e->is_object()) return describe(e->as_object());
      if (e->is_string()) return std::string(e->as_string());
    }
  return std::string(body.substr(0, 200));
}

}  // namespace sluice::connectors::elasticsearch
