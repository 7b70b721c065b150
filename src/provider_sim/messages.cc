#include "provider_sim/messages.h"

#include <boost/json.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <charconv>
#include <ctime>
#include <vector>

namespace sluice::provider_sim {

namespace json = boost::json;

std::string rfc2822(int64_t unix_ms) {
  return fmt::format("{:%a, %d %b %Y %H:%M:%S +0000}", fmt::gmtime(static_cast<std::time_t>(unix_ms / 1000)));
}

namespace {

// The UTC day (days since 1970) of "YYYY-MM-DD", as DateSent filters give it.
std::optional<int64_t> parse_day(const std::string& s) {
  std::tm tm{};
  const char* end = ::strptime(s.c_str(), "%Y-%m-%d", &tm);
  if (!end || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(::timegm(&tm)) / 86400;
}

json::value message_json(const SimMessage& m, const std::string& account) {
  json::value code = nullptr;  // Twilio's is a number, or null
  if (!m.error_code.empty()) code = std::stoll(m.error_code);
  auto text_or_null = [](const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); };
  return json::object{{"account_sid", account},
                      {"sid", m.sid},
                      {"to", m.to},
                      {"from", text_or_null(m.from)},
                      {"body", m.body},
                      {"status", m.status},
                      {"error_code", std::move(code)},
                      {"num_segments", std::to_string(m.segments)},
                      {"date_created", rfc2822(m.created_ms)},
                      {"date_sent", m.sent_ms > 0 ? json::value(rfc2822(m.sent_ms)) : json::value(nullptr)},
                      {"uri", fmt::format("/2010-04-01/Accounts/{}/Messages/{}.json", account, m.sid)}};
}

}  // namespace

bool MessageBook::add(SimMessage m) {
  const bool duplicate = !texts_.insert(m.to + '\n' + m.body).second;
  order_.push_back(m.sid);
  by_sid_[m.sid] = std::move(m);
  return duplicate;
}

SimMessage* MessageBook::find(const std::string& sid) {
  auto it = by_sid_.find(sid);
  return it == by_sid_.end() ? nullptr : &it->second;
}

std::optional<std::string> MessageBook::resource_json(const std::string& sid, const std::string& account) const {
  auto it = by_sid_.find(sid);
  if (it == by_sid_.end()) return std::nullopt;
  return json::serialize(message_json(it->second, account));
}

std::expected<std::string, std::string> MessageBook::list_json(const net::Form& query, const std::string& account) const {
  std::string to, from;
  std::optional<int64_t> on_day, until_day, from_day;
  size_t page_size = order_.size();
  for (const auto& [name, value] : query) {
    if (name == "To") to = value;
    else if (name == "From") from = value;
    else if (name == "DateSent" || name == "DateSent<" || name == "DateSent>") {
      auto day = parse_day(value);
      if (!day) return std::unexpected(fmt::format("{} must be a date like 2026-12-01", name));
      (name == "DateSent" ? on_day : name == "DateSent<" ? until_day : from_day) = day;
    } else if (name == "PageSize") {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), page_size);
      if (ec != std::errc() || end != value.data() + value.size() || page_size == 0 || page_size > 1000)
        return std::unexpected("PageSize must be 1 to 1000");
    }
  }
  json::array page;
  for (auto it = order_.rbegin(); it != order_.rend() && page.size() < page_size; ++it) {
    const SimMessage& m = by_sid_.at(*it);
    if (!to.empty() && m.to != to) continue;
    if (!from.empty() && m.from != from) continue;
    if (on_day || until_day || from_day) {
      if (m.sent_ms == 0) continue;  // not sent yet: no date_sent to match
      const int64_t day = m.sent_ms / 86'400'000;
      if ((on_day && day != *on_day) || (until_day && day > *until_day) || (from_day && day < *from_day)) continue;
    }
    page.push_back(message_json(m, account));
  }
  const auto n = static_cast<int64_t>(page.size());
  return json::serialize(json::object{{"messages", std::move(page)}, {"page", 0}, {"page_size", n},
                                      {"uri", fmt::format("/2010-04-01/Accounts/{}/Messages.json", account)}});
}

}  // namespace sluice::provider_sim
