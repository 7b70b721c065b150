#include "alerts/recipients.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <unordered_set>

namespace sluice::alerts {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '"' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '"' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool looks_like_e164(std::string_view s) {
  if (s.size() < 8 || s.size() > 16 || s[0] != '+' || s[1] == '0') return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Adds `entries` (label, number) in order; fails listing up to 5 bad ones.
std::expected<Recipients, std::string> collect(const std::vector<std::pair<std::string, std::string_view>>& entries) {
  Recipients out;
  std::unordered_set<std::string_view> seen;
  std::vector<std::string> bad;
  size_t bad_count = 0;
  for (const auto& [label, number] : entries) {
    if (!looks_like_e164(number)) {
      if (++bad_count <= 5) bad.push_back(fmt::format("{} '{}'", label, number.substr(0, 40)));
      continue;
    }
    if (!seen.insert(number).second) {
      ++out.duplicates;
      continue;
    }
    out.numbers.emplace_back(number);
  }
  if (bad_count > 0)
    return std::unexpected(fmt::format("{} recipient(s) are not E.164 numbers (+ and 7-15 digits): {}{}", bad_count,
                                       fmt::join(bad, ", "), bad_count > bad.size() ? ", ..." : ""));
  if (out.numbers.empty()) return std::unexpected("no recipients");
  return out;
}

}  // namespace

std::expected<Recipients, std::string> recipients_from_list(const std::vector<std::string>& list) {
  std::vector<std::pair<std::string, std::string_view>> entries;
  for (size_t i = 0; i < list.size(); ++i) entries.emplace_back(fmt::format("recipients[{}]", i), trim(list[i]));
  return collect(entries);
}

std::expected<Recipients, std::string> recipients_from_csv(std::string_view csv) {
  std::vector<std::pair<std::string, std::string_view>> entries;
  size_t row = 0;
  while (!csv.empty()) {
    const size_t eol = csv.find('\n');
    std::string_view line = csv.substr(0, eol);
    csv = eol == std::string_view::npos ? std::string_view() : csv.substr(eol + 1);
    ++row;
    const std::string_view cell = trim(line.substr(0, line.find(',')));
    if (cell.empty()) continue;
    const bool header = row == 1 && std::none_of(cell.begin(), cell.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (header) continue;
    entries.emplace_back(fmt::format("row {}", row), cell);
  }
  return collect(entries);
}

}  // namespace sluice::alerts
