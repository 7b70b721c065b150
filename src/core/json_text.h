#pragma once
// JSON text written directly, for hot paths (a webhook's form, a queued
// message's metadata) that would otherwise build a boost::json value only to
// serialize it.

#include <string>
#include <string_view>

namespace sluice::core {

// Appends `s` (UTF-8) as a JSON string literal, quotes included.
void append_json_string(std::string& out, std::string_view s);

}  // namespace sluice::core
