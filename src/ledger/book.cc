#include "ledger/book.h"

#include <algorithm>

namespace sluice::ledger {

namespace {
std::string recipient_key(const std::string& alert_id, const std::string& recipient) {
  return alert_id + '\n' + recipient;
}
int64_t second_of(int64_t ms) { return ms / 1000; }
bool is_failure(Status s) { return s == Status::failed || s == Status::undelivered; }
std::string failure_key(const std::string& error_code) { return error_code.empty() ? "none" : error_code; }
}  // namespace

Send refused_send(std::string alert_id, std::string recipient, std::string error_code, int64_t at_ms,
                  int64_t attempt) {
  std::string sid = "refused:" + alert_id + ":" + recipient;
  if (attempt > 1) sid += ":" + std::to_string(attempt);
  return {.alert_id = std::move(alert_id),
          .recipient = std::move(recipient),
          .sid = std::move(sid),
          .status = Status::failed,
          .at_ms = at_ms,
          .segments = 0,
          .error_code = std::move(error_code),
          .attempt = attempt};
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
    if (holder.alert_id == send.alert_id && holder.recipient == send.recipient && holder.attempt == send.attempt) {
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
            .segments = send.segments,
            .attempt = send.attempt};
  if (rank(m.status) >= rank(Status::sent) && !is_refused(m.sid)) m.sent_ms = send.at_ms;
  if (is_terminal(m.status)) m.final_ms = send.at_ms;
  stats_for(send.alert_id, send.at_ms);
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
  stats_for(m.alert_id, m.send_ms);
  index(messages_.emplace(m.sid, m).first->second);
}

// Indexes a new message and counts it: as its recipient's outcome when it
// is the latest attempt (superseding the one before), or only as a cost
// when a later attempt is already known (restored out of order).
// messages_ is node-based: the pointers stay valid as it grows.
void Book::index(Message& m) {
  AlertStats& a = alerts_.at(m.alert_id);
  by_alert_[m.alert_id].push_back(&m);
  auto [it, first] = latest_.try_emplace(recipient_key(m.alert_id, m.recipient), &m);
  if (first) {
    ++a.recipients_sent;
  } else if (it->second->attempt < m.attempt) {
    Message& before = *it->second;
    drop_resend(before, a);
    add_current(before, a, -1);
    before.superseded = true;
    it->second = &m;
  } else {
    m.superseded = true;
  }
  count_into(m, a);
  consider_resend(m, a);
}

// What a recipient's current message counts (by status, failures by code,
// delivered after a resend, refused), added (n = 1) or taken away (n = -1):
// one definition for a message counted, moved and superseded.
void Book::add_current(const Message& m, AlertStats& a, int64_t n) {
  a.by_status[static_cast<size_t>(m.status)] += n;
  a.messages += n;
  if (is_refused(m.sid)) a.refused += n;
  if (m.status == Status::delivered && m.attempt > 1) a.delivered_after_resend += n;
  if (!is_failure(m.status)) return;
  auto f = a.failures_by_code.try_emplace(failure_key(m.error_code), 0).first;
  if ((f->second += n) == 0) a.failures_by_code.erase(f);
}

// A current message that failed with a code its alert's policy resends
// waits in the queue until `after` its final status.
void Book::consider_resend(const Message& m, AlertStats& a) {
  if (m.superseded || !is_failure(m.status) || !a.info.resend.resends(m.attempt, m.error_code)) return;
  const int64_t due = std::max(m.final_ms, m.send_ms) + a.info.resend.after_ms;
  if (!resend_due_.try_emplace(m.sid, due).second) return;
  resend_queue_.emplace(due, m.sid);
  ++a.resends_waiting;
}

void Book::drop_resend(const Message& m, AlertStats& a) {
  auto it = resend_due_.find(m.sid);
  if (it == resend_due_.end()) return;
  resend_queue_.erase({it->second, m.sid});
  resend_due_.erase(it);
  --a.resends_waiting;
}

std::vector<ResendOrder> Book::take_resends(int64_t now_ms, int64_t lease_ms, size_t limit) {
  std::vector<ResendOrder> out;
  std::vector<std::pair<int64_t, std::string>> again;
  while (!resend_queue_.empty() && out.size() < limit && resend_queue_.begin()->first <= now_ms) {
    auto [due, sid] = *resend_queue_.begin();
    const Message& m = messages_.at(sid);
    AlertStats& a = alerts_.at(m.alert_id);
    const int64_t validity = validity_seconds(a.info.created_ms, a.info.resend.window_ms, now_ms);
    if (validity == 0) {  // the window has passed: this failure is final
      drop_resend(m, a);
      continue;
    }
    resend_queue_.erase(resend_queue_.begin());
    again.emplace_back(now_ms + lease_ms, sid);
    out.push_back({.alert_id = m.alert_id,
                   .recipient = m.recipient,
                   .body = a.info.body,
                   .from = a.info.from,
                   .attempt = m.attempt + 1,
                   .validity_s = validity});
  }
  for (auto& [due, sid] : again) {
    resend_due_[sid] = due;
    resend_queue_.emplace(due, std::move(sid));
  }
  counters_.resends_ordered += out.size();
  return out;
}

void Book::note_reconciling(const std::vector<Message>& overdue) {
  for (const Message& m : overdue)
    if (auto it = alerts_.find(m.alert_id); it != alerts_.end()) it->second.reconciling = true;
}

void Book::add_late_callbacks(const std::string& alert_id, int64_t n) {
  if (auto it = alerts_.find(alert_id); it != alerts_.end()) it->second.late_callbacks += n;
}

void Book::restore_held(const StatusEvent& event) {
  auto& list = held_[event.sid];
  if (list.empty()) held_order_.push_back(event.sid);
  list.push_back(event);
  ++held_count_;
}

// Adds a message, as it stands, to its alert's aggregates: its cost and
// timings always, its status only while it is its recipient's latest.
void Book::count_into(const Message& m, AlertStats& a) {
  a.last_activity_ms = std::max({a.last_activity_ms, m.send_ms, m.sent_ms, m.final_ms});
  if (m.attempt > 1) ++a.resent;
  if (!m.superseded) add_current(m, a, 1);
  if (is_refused(m.sid)) return;  // not a send: no rate, no timings
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
  AlertStats& a = alerts_.at(m.alert_id);
  if (event.at_ms > a.info.created_ms + a.info.resend.window_ms) {
    ++a.late_callbacks;
    ++counters_.late_callbacks;
  }
  if (m.status == *next) {
    ++counters_.duplicates_ignored;
    return Effect::duplicate;
  }
  if (!moves_forward(m.status, *next)) {
    ++counters_.stale_ignored;
    return Effect::stale;
  }
  return move(m, a, *next, event);
}

Effect Book::move(Message& m, AlertStats& a, Status next, const StatusEvent& event) {
  const bool current = !m.superseded;
  if (current) add_current(m, a, -1);  // counted again below, at its new status
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
    if (is_failure(next)) m.error_code = event.error_code;
    consider_resend(m, a);
  }
  if (current) add_current(m, a, 1);
  // Activity counts what is persisted (the send, sent and final times), so
  // a reopened store reports the same.
  a.last_activity_ms = std::max({a.last_activity_ms, m.sent_ms, m.final_ms});
  ++counters_.statuses_applied;
  return Effect::moved;
}

bool Book::send_recorded(const std::string& alert_id, const std::string& recipient, int64_t attempt) const {
  auto it = latest_.find(recipient_key(alert_id, recipient));
  return it != latest_.end() && it->second->attempt >= attempt;
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
      if (!m->superseded &&
          (statuses.empty() || std::find(statuses.begin(), statuses.end(), m->status) != statuses.end()))
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
