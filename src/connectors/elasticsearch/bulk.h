#pragma once
// The `_bulk` API's two halves, without I/O: the NDJSON request body (an
// action line, then the document line) and the per-item results of its
// answer, with what each result means for the message (a write outcome).
//
// Answers of Elasticsearch 7 and 8 and OpenSearch 1 and 2 have the same
// shape here ({"errors": ..., "items": [{"<action>": {"status": ..,
// "error": {"type": .., "reason": ..}}}]}; 7 and OpenSearch 1 add a `_type`).

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "runtime/write_outcome.h"

namespace sluice::connectors::elasticsearch {

enum class Action { index, create, update };

// One document's place: which index, and optionally its id and routing.
struct Target {
  std::string index;
  std::string id;       // empty: Elasticsearch picks one (index and create only)
  std::string routing;  // empty: none
};

// Appends the action line and the document line for `document`, a JSON
// object on one line. `update` sends {"doc": ..., "doc_as_upsert": true}.
void append_operation(std::string& body, Action action, const Target& target, std::string_view document);

// One item of the answer.
struct ItemResult {
  int status = 0;
  std::string id;          // the id Elasticsearch used
  std::string error_type;  // empty on success
  std::string reason;
};

// The items of a 200 answer to a bulk request of `expected` operations, in
// order. Errc::invalid_payload when the answer is not that (not JSON, no
// items, a different count): nothing can be known of any message then.
core::Result<std::vector<ItemResult>> parse_response(std::string_view body, size_t expected);

// What an item's result means: 2xx ok; 429 overload and 5xx retry (the
// cluster could not take it now); other 4xx reject with the error's type and
// reason (a mapping error, a version conflict of `create`).
runtime::WriteOutcome outcome_of(const ItemResult& item);

// The error of a whole-request refusal ({"error": {"type", "reason"}}), as
// "type: reason", or the body's start when it has none.
std::string error_of(std::string_view body);

}  // namespace sluice::connectors::elasticsearch
