#include "ledger/book.h"

#include <algorithm>

namespace sluice::ledger {

namespace {
std::string recipient_key(const std::string& alert_id, const std::string& recipient) {
  return alert_id + '\n' + recipient;
}
int64_t second_of(int64_t ms) { return ms / 1000; }
bool is_failure(Status s) { return s == Status::failed || s == Status::undelivered; }
}  // namespace

Send refused_send(std::string alert_id, std::string recipient, std::string error_code, int64_t at_ms) {
  std::string sid = "refused:" + alert_id + ":" + recipient;
  return {.alert_id = std::move(alert_id),
          .recipient = std::move(recipient),
          .sid = std::move(sid),
          .status = Status::failed,
          .at_ms = at_ms,
          .segments = 0,
          .error_code = std::move(error_code)};
}

bool is_refused(const std::string& sid) { return sid.starts_with("refused:"); }

int64_t AlertStats::terminal() const {
  int64_t n = 0;
  for (Status s : kAllStatuses)
    if (is_terminal(s)) n += by_status[static_cast<size_t>(s)];
  return n;
}

void Book::add_alert(AlertInfo info) {
  auto [it, created] = alerts_.try_emplace(info.id);
  if (created) alert_order_.push_back(info.id);
  it->second.info = std::move(info);
}

void Book::remove_alert(const std::string& id) {
  if (alerts_.erase(id) == 0) return;
  std::erase(alert_order_, id);
  by_alert_.erase(id);
}

AlertStats& Book::stats_for(const std::string& alert_id, int64_t at_ms) {
  auto [it, created] = alerts_.try_emplace(alert_id);
  if (created) {
    it->second.info.id = alert_id;
    it->second.info.created_ms = at_ms;
    alert_order_.push_back(alert_id);
  }
  return it->second;
}

std::string Book::conflict_key(const Send& send) { return send.sid + "~" + send.alert_id + ":" + send.recipient; }

SendEffect Book::record_send(const Send& send) {
  if (auto it = messages_.find(send.sid); it != messages_.end()) {
    const Message& holder = it->second;
    if (holder.alert_id == send.alert_id && holder.recipient == send.recipient) {
      ++counters_.sends_duplicate;
      return SendEffect::duplicate;
    }
    Send apart = send;
    apart.sid = conflict_key(send);
    if (messages_.contains(apart.sid)) {
      ++counters_.sends_duplicate;
      return SendEffect::duplicate;
    }
    ++counters_.sid_conflicts;
    record_new(apart);
    return SendEffect::sid_conflict;
  }
  record_new(send);
  return SendEffect::recorded;
}

void Book::record_new(const Send& send) {
  Message m{.alert_id = send.alert_id,
            .recipient = send.recipient,
            .sid = send.sid,
            .status = send.status,
            .send_ms = send.at_ms,
            .error_code = send.error_code,
            .segments = send.segments};
  if (rank(m.status) >= rank(Status::sent) && !is_refused(m.sid)) m.sent_ms = send.at_ms;
  if (is_terminal(m.status)) m.final_ms = send.at_ms;
  count_into(m, stats_for(send.alert_id, send.at_ms));
  index(messages_.emplace(send.sid, std::move(m)).first->second);
  ++counters_.sends_recorded;
  if (auto it = held_.find(send.sid); it != held_.end()) {
    auto events = std::move(it->second);
    held_.erase(it);
    held_count_ -= events.size();
    for (const auto& e : events) {
      apply(e);
      ++counters_.early_reconciled;
    }
  }
}

void Book::restore(const Message& m) {
  if (messages_.contains(m.sid)) return;
  count_into(m, stats_for(m.alert_id, m.send_ms));
  index(messages_.emplace(m.sid, m).first->second);
}

// messages_ is node-based: the pointer stays valid as it grows.
void Book::index(const Message& m) { by_alert_[m.alert_id].push_back(&m); }

void Book::restore_held(const StatusEvent& event) {
  auto& list = held_[event.sid];
  if (list.empty()) held_order_.push_back(event.sid);
  list.push_back(event);
  ++held_count_;
}

// Adds a message, as it stands, to its alert's aggregates.
void Book::count_into(const Message& m, AlertStats& a) {
  a.last_activity_ms = std::max({a.last_activity_ms, m.send_ms, m.sent_ms, m.final_ms});
  ++a.by_status[static_cast<size_t>(m.status)];
  ++a.messages;
  if (sent_recipients_.insert(recipient_key(m.alert_id, m.recipient)).second) ++a.recipients_sent;
  if (is_failure(m.status)) ++a.failures_by_code[m.error_code.empty() ? "none" : m.error_code];
  if (is_refused(m.sid)) {  // not a send: no rate, no timings
    ++a.refused;
    return;
  }
  a.segments += m.segments;
  ++a.sends_per_second[second_of(m.send_ms)];
  if (a.first_send_ms == 0 || m.send_ms < a.first_send_ms) a.first_send_ms = m.send_ms;
  a.last_send_ms = std::max(a.last_send_ms, m.send_ms);
  if (m.sent_ms >= 0) a.to_sent_ms.record(std::max<int64_t>(0, m.sent_ms - m.send_ms));
  if (m.status == Status::delivered) {
    a.to_delivered_ms.record(std::max<int64_t>(0, m.final_ms - m.send_ms));
    ++a.deliveries_per_second[second_of(m.final_ms)];
  }
}

Effect Book::apply(const StatusEvent& event) {
  const auto next = parse_status(event.status);
  if (!next) {
    ++counters_.unknown_ignored;
    return Effect::unknown_status;
  }
  auto it = messages_.find(event.sid);
  if (it == messages_.end()) {
    restore_held(event);
    ++counters_.early_held;
    while (held_count_ > kMaxHeld && !held_order_.empty()) {  // bounded: drop the oldest sid's callbacks
      if (auto old = held_.find(held_order_.front()); old != held_.end()) {
        held_count_ -= old->second.size();
        held_.erase(old);
      }
      held_order_.pop_front();
    }
    return Effect::held;
  }
  Message& m = it->second;
  if (m.status == *next) {
    ++counters_.duplicates_ignored;
    return Effect::duplicate;
  }
  if (!moves_forward(m.status, *next)) {
    ++counters_.stale_ignored;
    return Effect::stale;
  }
  return move(m, alerts_.at(m.alert_id), *next, event);
}

Effect Book::move(Message& m, AlertStats& a, Status next, const StatusEvent& event) {
  --a.by_status[static_cast<size_t>(m.status)];
  ++a.by_status[static_cast<size_t>(next)];
  m.status = next;
  if (rank(next) >= rank(Status::sent) && m.sent_ms < 0) {
    m.sent_ms = event.at_ms;
    a.to_sent_ms.record(std::max<int64_t>(0, m.sent_ms - m.send_ms));
  }
  if (is_terminal(next)) {
    m.final_ms = event.at_ms;
    if (next == Status::delivered) {
      a.to_delivered_ms.record(std::max<int64_t>(0, m.final_ms - m.send_ms));
      ++a.deliveries_per_second[second_of(m.final_ms)];
    }
    if (is_failure(next)) {
      m.error_code = event.error_code;
      ++a.failures_by_code[m.error_code.empty() ? "none" : m.error_code];
    }
  }
  // Activity counts what is persisted (the send, sent and final times), so
  // a reopened store reports the same.
  a.last_activity_ms = std::max({a.last_activity_ms, m.sent_ms, m.final_ms});
  ++counters_.statuses_applied;
  return Effect::moved;
}

bool Book::send_recorded(const std::string& alert_id, const std::string& recipient) const {
  return sent_recipients_.contains(recipient_key(alert_id, recipient));
}

std::vector<Message> Book::overdue(int64_t sent_before_ms, const OverdueCursor& after, size_t limit) const {
  auto later = [](const Message& a, const Message& b) {
    return a.send_ms != b.send_ms ? a.send_ms < b.send_ms : a.sid < b.sid;
  };
  std::vector<Message> out;
  for (const auto& [sid, m] : messages_) {
    if (is_terminal(m.status) || m.send_ms >= sent_before_ms) continue;
    if (m.send_ms < after.send_ms || (m.send_ms == after.send_ms && sid <= after.sid)) continue;
    out.push_back(m);
  }
  const size_t n = std::min(limit, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), out.end(), later);
  out.resize(n);
  return out;
}

RecipientPage Book::recipients(const std::string& alert_id, const std::vector<Status>& statuses, size_t offset,
                               size_t limit) const {
  if (!alerts_.contains(alert_id)) return {.alert_found = false};
  std::vector<const Message*> matching;
  if (auto it = by_alert_.find(alert_id); it != by_alert_.end())
    for (const Message* m : it->second)
      if (statuses.empty() || std::find(statuses.begin(), statuses.end(), m->status) != statuses.end())
        matching.push_back(m);
  std::sort(matching.begin(), matching.end(), [](const Message* a, const Message* b) {
    return a->send_ms != b->send_ms ? a->send_ms < b->send_ms : a->recipient < b->recipient;
  });
  RecipientPage page{.total = matching.size()};
  for (size_t i = offset; i < matching.size() && page.messages.size() < limit; ++i) page.messages.push_back(*matching[i]);
  return page;
}

const Message* Book::message(const std::string& sid) const {
  auto it = messages_.find(sid);
  return it == messages_.end() ? nullptr : &it->second;
}

const AlertStats* Book::alert(const std::string& id) const {
  auto it = alerts_.find(id);
  return it == alerts_.end() ? nullptr : &it->second;
}

std::vector<const AlertStats*> Book::alerts() const {
  std::vector<const AlertStats*> out;
  for (auto it = alert_order_.rbegin(); it != alert_order_.rend(); ++it) out.push_back(&alerts_.at(*it));
  return out;
}

}  // namespace sluice::ledger
