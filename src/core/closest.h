#pragma once
// "Did you mean ...?": the candidate nearest to a mistyped word, for config
// errors and command-line errors alike.

#include <optional>
#include <string>
#include <vector>

namespace sluice::core {

// The candidate at the smallest edit distance (insert, delete, substitute)
// from `word`, if it is within 2 edits.
std::optional<std::string> closest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace sluice::core
