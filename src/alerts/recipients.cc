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

}  // namespace

bool valid_sender(std::string_view from) {
  if (looks_like_e164(from)) return true;
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); };
  if (from.size() == 34 && from.starts_with("MG") && std::all_of(from.begin() + 2, from.end(), hex)) return true;
  // Alphanumeric sender ID: 1-11 of A-Z, a-z, 0-9 and space, with a letter.
  if (from.empty() || from.size() > 11 || from.front() == ' ' || from.back() == ' ') return false;
  bool letter = false;
  for (char c : from) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alpha && !(c >= '0' && c <= '9') && c != ' ') return false;
    letter = letter || alpha;
  }
  return letter;
}

namespace {

// A bad entry as it can be shown anywhere (JSON, a terminal, HTML): at most
// 40 bytes, anything but printable ASCII as \xNN.
std::string printable(std::string_view raw) {
  std::string out;
  for (unsigned char c : raw.substr(0, 40))
    out += c >= 0x20 && c < 0x7f ? std::string(1, static_cast<char>(c)) : fmt::format("\\x{:02X}", c);
  return out;
}

// Takes entries one at a time; positions become labels ("row 7") only for
// the bad ones, so a million good rows cost no strings beyond the numbers.
class Collector {
 public:
  Collector(OnInvalid on_invalid, size_t max_numbers, const char* label_format, size_t expected)
      : on_invalid_(on_invalid), max_numbers_(max_numbers), label_format_(label_format) {
    // Never more than the limit: a body of empty lines must not reserve
    // room for millions of numbers.
    const size_t room = std::min(expected, max_numbers);
    seen_.reserve(room);
    out_.numbers.reserve(room);
  }

  // `number` is trimmed and points into the caller's source text.
  void add(std::string_view number, size_t position) {
    if (!looks_like_e164(number)) {
      if (++out_.refused <= kListedRefusals)
        out_.refused_list.push_back({fmt::format(fmt::runtime(label_format_), position), printable(number)});
      return;
    }
    if (seen_.contains(number)) {
      ++out_.duplicates;
      return;
    }
    if (out_.numbers.size() == max_numbers_) {  // counted no further: the alert is refused
      out_.over_limit = true;
      return;
    }
    seen_.insert(number);
    out_.numbers.emplace_back(number);
  }

  std::expected<Recipients, std::string> finish() && {
    if (out_.refused > 0 && (on_invalid_ == OnInvalid::refuse_alert || out_.numbers.empty())) {
      std::vector<std::string> named;
      for (size_t i = 0; i < std::min<size_t>(5, out_.refused_list.size()); ++i)
        named.push_back(fmt::format("{} '{}'", out_.refused_list[i].where, out_.refused_list[i].value));
      return std::unexpected(fmt::format("{} recipient(s) are not E.164 numbers (+ and 7-15 digits): {}{}",
                                         out_.refused, fmt::join(named, ", "), out_.refused > named.size() ? ", ..." : ""));
    }
    if (out_.numbers.empty()) return std::unexpected("no recipients");
    return std::move(out_);
  }

 private:
  OnInvalid on_invalid_;
  size_t max_numbers_;
  const char* label_format_;
  std::unordered_set<std::string_view> seen_;
  Recipients out_;
};

}  // namespace

std::expected<Recipients, std::string> recipients_from_list(std::span<const std::string_view> list,
                                                            OnInvalid on_invalid, size_t max_numbers) {
  Collector c(on_invalid, max_numbers, "recipients[{}]", list.size());
  for (size_t i = 0; i < list.size(); ++i) c.add(trim(list[i]), i);
  return std::move(c).finish();
}

std::expected<Recipients, std::string> recipients_from_csv(std::string_view csv, OnInvalid on_invalid,
                                                           size_t max_numbers) {
  Collector rows(on_invalid, max_numbers, "row {}", static_cast<size_t>(std::count(csv.begin(), csv.end(), '\n')) + 1);
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
    rows.add(cell, row);
  }
  return std::move(rows).finish();
}

}  // namespace sluice::alerts
