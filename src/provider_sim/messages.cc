#include "provider_sim/messages.h"

#include <boost/json.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <stdexcept>
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

bool is_final(const std::string& status) {
  return status == "delivered" || status == "undelivered" || status == "failed" || status == "canceled";
}

MessageBook::~MessageBook() {
  if (journal_fd_ >= 0) ::close(journal_fd_);
}

MessageBook::Replayed MessageBook::open_journal(const std::string& path) {
  Replayed out;
  if (std::ifstream in(path); in) {
    for (std::string line; std::getline(in, line);) {
      boost::system::error_code ec;
      const json::value v = json::parse(line, ec);
      const json::object* o = ec ? nullptr : v.if_object();
      auto text = [o](const char* k) {
        const json::value* f = o ? o->if_contains(k) : nullptr;
        return f && f->is_string() ? std::string(f->as_string()) : std::string();
      };
      auto number = [o](const char* k) {
        const json::value* f = o ? o->if_contains(k) : nullptr;
        return f && f->is_int64() ? f->as_int64() : int64_t{0};
      };
      const std::string op = text("op");
      if (op == "add") {
        keep({.sid = text("sid"), .to = text("to"), .from = text("from"), .body = text("body"),
              .callback = text("callback"), .created_ms = number("created_ms"), .segments = number("segments")});
        ++out.messages;
      } else if (op == "sent" && by_sid_.contains(text("sid"))) {
        by_sid_[text("sid")].sent_ms = number("sent_ms");
        if (by_sid_[text("sid")].status == "queued") by_sid_[text("sid")].status = "sent";
      } else if (op == "final" && by_sid_.contains(text("sid"))) {
        by_sid_[text("sid")].status = text("status");
        by_sid_[text("sid")].error_code = text("error_code");
      } else {
        ++out.unreadable_lines;
      }
    }
  }
  journal_fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (journal_fd_ < 0) throw std::runtime_error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  return out;
}

void MessageBook::journal(const std::string& line) {
  if (journal_fd_ < 0) return;
  const std::string with_newline = line + '\n';
  // One write per line: O_APPEND keeps lines whole unless the process dies
  // inside the call, and replay skips such a line.
  if (::write(journal_fd_, with_newline.data(), with_newline.size()) < 0) {
    ::close(journal_fd_);
    journal_fd_ = -1;  // the simulator keeps going without its journal
  }
}

bool MessageBook::keep(SimMessage m) {
  m.attempt = ++texts_[m.to + '\n' + m.body];
  const bool duplicate = m.attempt > 1;
  if (duplicate) ++duplicate_texts_;
  order_.push_back(m.sid);
  by_sid_[m.sid] = std::move(m);
  return duplicate;
}

bool MessageBook::add(SimMessage m) {
  journal(json::serialize(json::object{{"op", "add"},
                                       {"sid", m.sid},
                                       {"to", m.to},
                                       {"from", m.from},
                                       {"body", m.body},
                                       {"callback", m.callback},
                                       {"created_ms", m.created_ms},
                                       {"segments", m.segments}}));
  return keep(std::move(m));
}

void MessageBook::mark_sent(const std::string& sid, int64_t sent_ms) {
  auto it = by_sid_.find(sid);
  if (it == by_sid_.end()) return;
  it->second.sent_ms = sent_ms;
  if (it->second.status == "queued") it->second.status = "sent";
  journal(json::serialize(json::object{{"op", "sent"}, {"sid", sid}, {"sent_ms", sent_ms}}));
}

void MessageBook::finish(const std::string& sid, const std::string& status, const std::string& error_code) {
  auto it = by_sid_.find(sid);
  if (it == by_sid_.end()) return;
  it->second.status = status;
  it->second.error_code = error_code;
  journal(json::serialize(json::object{{"op", "final"}, {"sid", sid}, {"status", status}, {"error_code", error_code}}));
}

const SimMessage* MessageBook::find(const std::string& sid) const {
  auto it = by_sid_.find(sid);
  return it == by_sid_.end() ? nullptr : &it->second;
}

std::vector<SimMessage> MessageBook::unfinished() const {
  std::vector<SimMessage> out;
  for (const auto& sid : order_)
    if (const SimMessage& m = by_sid_.at(sid); !is_final(m.status)) out.push_back(m);
  return out;
}

std::map<std::string, int64_t> MessageBook::counts() const {
  std::map<std::string, int64_t> out;
  for (const auto& [sid, m] : by_sid_) {
    ++out["queued"];  // every message accepted
    if (m.sent_ms > 0) ++out["sent"];
    if (is_final(m.status)) ++out[m.status];
  }
  if (duplicate_texts_ > 0) out["duplicate_texts"] = duplicate_texts_;
  return out;
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
