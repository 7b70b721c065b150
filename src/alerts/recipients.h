#pragma once
// Recipients of an alert, from a JSON array or from CSV text: the first
// column of each row, a header row skipped, spaces and quotes trimmed,
// duplicates dropped (nobody is texted twice for one alert), and every
// number checked to look like E.164 (+ and 7-15 digits).
//
// Memory: the numbers themselves and one index of views into the source
// text, no copy per row (a million recipients take about 70 MB).

#include <expected>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::alerts {

struct RefusedRecipient {
  std::string where;  // "row 7" (CSV) or "recipients[6]" (list)
  std::string value;  // as given, clipped to 40 bytes, other than printable ASCII as \xNN
};

struct Recipients {
  std::vector<std::string> numbers;  // in first-seen order
  size_t duplicates = 0;
  size_t refused = 0;                      // bad entries skipped (OnInvalid::skip)
  std::vector<RefusedRecipient> refused_list;  // the first kListedRefusals of them
  bool over_limit = false;  // more distinct numbers than max_numbers; `numbers` holds the first ones
};

constexpr size_t kListedRefusals = 1000;

// What a bad number does: refuses the whole alert (the default, naming the
// first five), or is skipped and listed while the good ones are sent.
enum class OnInvalid { refuse_alert, skip };

// `source` must outlive the call only. Errors name the row (CSV) or index
// (list) of the first bad entries; no good recipient at all is an error.
// Past `max_numbers` distinct numbers no more are kept (over_limit), so a
// hostile body costs at most that much memory.
constexpr size_t kNoLimit = static_cast<size_t>(-1);

// A sender Twilio takes as `From`: an E.164 number, an alphanumeric sender
// ID (1-11 letters, digits and spaces, at least one letter) or a Messaging
// Service SID (MG + 32 hex).
bool valid_sender(std::string_view from);
std::expected<Recipients, std::string> recipients_from_list(std::span<const std::string_view> list,
                                                            OnInvalid on_invalid = OnInvalid::refuse_alert,
                                                            size_t max_numbers = kNoLimit);
std::expected<Recipients, std::string> recipients_from_csv(std::string_view csv,
                                                           OnInvalid on_invalid = OnInvalid::refuse_alert,
                                                           size_t max_numbers = kNoLimit);

}  // namespace sluice::alerts
