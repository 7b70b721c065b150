// libFuzzer target for an alert's recipients: CSV text and JSON lists, in
// both invalid-number modes and under a recipient limit. The first byte
// picks the mode; the rest is the CSV text or the JSON document. Promises
// beside "no crash": every number kept is E.164 and distinct, no more than
// the limit are kept, counts add up, echoes of bad rows are printable
// ASCII, and the numbers kept, given again as CSV, come back unchanged.
#include <boost/json.hpp>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "alerts/recipients.h"
#include "fuzz_check.h"

namespace {

using sluice::fuzz::check;
namespace alerts = sluice::alerts;

bool e164(std::string_view s) {
  return s.size() >= 8 && s.size() <= 16 && s[0] == '+' && s[1] != '0' &&
         std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void check_kept(const alerts::Recipients& r, size_t entries, size_t max_numbers) {
  std::set<std::string_view> distinct;
  for (const auto& n : r.numbers) {
    check(e164(n), "every number kept is E.164", n);
    check(distinct.insert(n).second, "no number is kept twice", n);
  }
  check(r.numbers.size() <= max_numbers, "no more numbers than the limit are kept");
  check(r.numbers.size() + r.duplicates + r.refused <= entries, "counts add up to at most the entries given");
  check(r.refused_list.size() == std::min(r.refused, alerts::kListedRefusals), "the first refusals are listed");
  for (const auto& bad : r.refused_list)
    check(bad.value.size() <= 160 &&
              std::all_of(bad.value.begin(), bad.value.end(), [](char c) { return c >= 0x20 && c < 0x7f; }),
          "a refused entry is echoed as printable ASCII", bad.value);
}

void check_round_trip(const alerts::Recipients& r) {
  std::string csv = "phone\n";
  for (const auto& n : r.numbers) csv += n + "\n";
  auto again = alerts::recipients_from_csv(csv);
  check(again.has_value() && again->numbers == r.numbers && again->duplicates == 0,
        "the numbers kept, given again as CSV, come back unchanged");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto on_invalid = (mode & 1) ? alerts::OnInvalid::skip : alerts::OnInvalid::refuse_alert;
  const size_t max_numbers = (mode & 2) ? 1 + (mode >> 4) : alerts::kNoLimit;

  std::expected<alerts::Recipients, std::string> got;
  size_t entries = 0;
  if (mode & 4) {
    boost::system::error_code ec;
    const auto doc = boost::json::parse(text, ec);
    if (ec || !doc.is_array()) return 0;
    std::vector<std::string_view> list;
    for (const auto& e : doc.as_array())
      if (e.is_string()) list.emplace_back(e.as_string());
    entries = list.size();
    got = alerts::recipients_from_list(list, on_invalid, max_numbers);
  } else {
    entries = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    got = alerts::recipients_from_csv(text, on_invalid, max_numbers);
  }
  if (!got) {
    check(!got.error().empty() && std::all_of(got.error().begin(), got.error().end(),
                                              [](char c) { return c >= 0x20 && c < 0x7f; }),
          "a refused list says why, in printable ASCII", got.error());
    return 0;
  }
  check(!got->numbers.empty(), "an accepted list has at least one number");
  check_kept(*got, entries, max_numbers);
  if (!got->over_limit) check_round_trip(*got);
  (void)alerts::valid_sender(text.substr(0, 40));
  return 0;
}
