#pragma once
// HTTP header lists as the server and client hand them over: names
// lower-cased, in arrival order.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

// The first header named `lower_name`, or nullptr.
inline const std::string* find_header(const Headers& headers, std::string_view lower_name) {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return &v;
  return nullptr;
}

}  // namespace sluice::net
