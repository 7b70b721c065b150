#pragma once
// Recipients of an alert, from a JSON array or from CSV text: the first
// column of each row, a header row skipped, spaces and quotes trimmed,
// duplicates dropped (nobody is texted twice for one alert), and every
// number checked to look like E.164 (+ and 7-15 digits).

#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::alerts {

struct Recipients {
  std::vector<std::string> numbers;  // in first-seen order
  size_t duplicates = 0;
};

// Errors name the row (CSV) or index (list) of the first bad entries.
std::expected<Recipients, std::string> recipients_from_list(const std::vector<std::string>& list);
std::expected<Recipients, std::string> recipients_from_csv(std::string_view csv);

}  // namespace sluice::alerts
