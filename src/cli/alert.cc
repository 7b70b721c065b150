// `sluice alert send` and `sluice alert status`: clients of the admin
// server's alert API (see alerts/api.h).
#include <boost/json.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/admin_client.h"
#include "cli/commands.h"
#include "net/form.h"
#include "ledger/status.h"

namespace sluice::cli {

namespace {

namespace json = boost::json;

int64_t count(const json::object& report, std::string_view status) {
  return report.at("by_status").as_object().at(status).to_number<int64_t>();
}

std::string bar(double fraction, int width) {
  const int full = static_cast<int>(fraction * width);
  return std::string(static_cast<size_t>(full), '#') + std::string(static_cast<size_t>(width - full), '.');
}

// The server's state (ledger::alert_state), with what to do when stalled.
std::string state_of(const json::object& r) {
  const std::string state = json::value_to<std::string>(r.at("state"));
  if (state != "stalled") return state;
  const auto* last = r.if_contains("last_activity_ms");
  const int64_t since = (last && last->to_number<int64_t>() > 0 ? last : &r.at("created_ms"))->to_number<int64_t>();
  const int64_t quiet_s = (std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch()).count() - since) / 1000;
  return fmt::format("stalled: nothing sent or heard back for {} s (check the pipelines, dead letters and log)", quiet_s);
}

}  // namespace

void print_report(const json::object& r, std::ostream& out) {
  const auto created = std::chrono::sys_time<std::chrono::milliseconds>(
      std::chrono::milliseconds(r.at("created_ms").to_number<int64_t>()));
  out << fmt::format("alert {}   created {:%Y-%m-%d %H:%M:%S} UTC\n", json::value_to<std::string>(r.at("id")),
                     std::chrono::floor<std::chrono::seconds>(created));
  out << fmt::format("  body        {}\n", json::value_to<std::string>(r.at("body")).substr(0, 60));
  const int64_t refused = r.at("refused").to_number<int64_t>();
  out << fmt::format("  recipients  {:>8}   accepted {:>8}   final {:>8}\n", r.at("recipients").to_number<int64_t>(),
                     r.at("messages").to_number<int64_t>() - refused, r.at("terminal").to_number<int64_t>());
  if (refused > 0)
    out << fmt::format("  refused     {:>8}   (never accepted by the provider: failed, see the codes below)\n", refused);
  out << fmt::format("  state       {}\n", state_of(r));
  out << "  status      count\n";
  for (auto s : ledger::kAllStatuses) {
    const int64_t n = count(r, ledger::to_string(s));
    if (n > 0 || ledger::is_terminal(s)) out << fmt::format("    {:<12}{:>8}\n", ledger::to_string(s), n);
  }
  out << fmt::format("  delivered   {:.1f}%\n", r.at("delivered_percent").to_number<double>());
  if (const auto* policy = r.if_contains("resend"); policy && !policy->is_null()) {
    const auto& at = r.at("attempts").as_object();
    auto n = [&at](const char* k) { return at.at(k).to_number<int64_t>(); };
    out << fmt::format("  attempts    delivered first time {}, after a resend {}; still undelivered {}; "
                       "waiting to be resent {}\n",
                       n("delivered_first_attempt"), n("delivered_after_resend"), n("still_undelivered"),
                       n("resends_waiting"));
  }
  if (const auto* late = r.if_contains("late_callbacks"); late && late->to_number<int64_t>() > 0)
    out << fmt::format("  late        {} callbacks after the alert's window\n", late->to_number<int64_t>());
  const auto& deliveries = r.at("deliveries_per_second").as_array();
  double delivery_rate = 0;
  if (!deliveries.empty()) {  // over the seconds from the first delivery to the last
    const int64_t seconds = deliveries.back().as_array().at(0).to_number<int64_t>() -
                            deliveries.front().as_array().at(0).to_number<int64_t>() + 1;
    delivery_rate = static_cast<double>(count(r, "delivered")) / static_cast<double>(seconds);
  }
  out << fmt::format("  rates       sent {:.1f} msg/s   delivered {:.1f} msg/s\n", r.at("send_rate").to_number<double>(),
                     delivery_rate);
  for (const char* k : {"time_to_sent", "time_to_delivered"}) {
    const auto& p = r.at(k).as_object();
    out << fmt::format("  {:<18} p50 {} ms   p90 {} ms   p99 {} ms   ({} messages)\n", k,
                       p.at("p50_ms").to_number<int64_t>(), p.at("p90_ms").to_number<int64_t>(),
                       p.at("p99_ms").to_number<int64_t>(), p.at("count").to_number<int64_t>());
  }
  const auto& failures = r.at("failures_by_code").as_object();
  if (!failures.empty()) {
    out << "  failures by error code\n";
    for (const auto& [code, n] : failures) out << fmt::format("    {:<12}{:>8}\n", std::string_view(code), n.to_number<int64_t>());
  }
}

std::string post_alert(const AlertOptions& o, const std::string& csv) {
  net::Form query{{"body", o.body}};
  if (!o.from.empty()) query.push_back({"from", o.from});
  if (o.skip_invalid) query.push_back({"skip_invalid", "true"});
  const AdminAnswer created =
      admin_call(o.admin, o.token, "POST", "/api/alerts?" + net::encode_form(query), csv, "text/csv; charset=utf-8");
  if (created.status != 201) throw AlertRefused(created.status, error_of(created));
  const auto& answer = created.body.as_object();
  const int64_t recipients = answer.at("recipients").to_number<int64_t>();
  if (const auto* removed = answer.if_contains("duplicates_removed"); removed && removed->to_number<int64_t>() > 0)
    std::cerr << fmt::format("sluice alert: {} duplicate number(s) removed; {} recipients\n",
                             removed->to_number<int64_t>(), recipients);
  if (const auto* refused = answer.if_contains("refused"); refused && refused->to_number<int64_t>() > 0) {
    std::cerr << fmt::format("sluice alert: {} row(s) refused, not E.164 numbers; sending to the other {}:\n",
                             refused->to_number<int64_t>(), recipients);
    for (const auto& row : answer.at("refused_rows").as_array())
      std::cerr << fmt::format("  {}: '{}'\n", std::string(row.at("where").as_string()),
                               std::string(row.at("value").as_string()));
    if (refused->to_number<int64_t>() > static_cast<int64_t>(answer.at("refused_rows").as_array().size()))
      std::cerr << "  ...\n";
  }
  return json::value_to<std::string>(answer.at("id"));
}

int alert_send_command(const AlertOptions& o) {
  std::ifstream in(o.recipients_file, std::ios::binary);
  if (!in) {
    std::cerr << fmt::format("sluice alert send: cannot read {}\n", o.recipients_file);
    return 2;
  }
  std::stringstream csv;
  csv << in.rdbuf();
  std::string id;
  try {
    id = post_alert(o, csv.str());
  } catch (const AlertRefused& e) {
    std::cerr << "sluice alert send: " << e.what() << "\n";
    return e.status == 400 || e.status == 413 ? 2 : 1;
  }
  std::cout << id << "\n" << std::flush;
  if (!o.wait) return 0;
  const auto report = wait_for_alert(o, id, std::cerr, ::isatty(STDERR_FILENO));
  if (!report) return 1;
  print_report(*report, std::cout);
  const int64_t delivered = count(*report, "delivered");
  if (delivered == report->at("recipients").to_number<int64_t>()) return 0;
  std::cerr << fmt::format("sluice alert: {} of {} recipients not delivered\n",
                           report->at("recipients").to_number<int64_t>() - delivered,
                           report->at("recipients").to_number<int64_t>());
  return 3;
}

std::optional<json::object> wait_for_alert(const AlertOptions& o, const std::string& id, std::ostream& out, bool tty) {
  const auto start = std::chrono::steady_clock::now();
  auto last_print = start - std::chrono::hours(1);
  int64_t last_sent = 0;
  auto last_t = start;
  double rate = 0;
  for (;;) {
    const AdminAnswer a = admin_call(o.admin, o.token, "GET", "/api/alerts/" + id);
    if (a.status != 200) {
      out << "\nsluice alert: " << error_of(a) << "\n";
      return std::nullopt;
    }
    const auto& r = a.body.as_object();
    const int64_t total = r.at("recipients").to_number<int64_t>();
    const int64_t refused = r.at("refused").to_number<int64_t>();
    const int64_t sent = r.at("messages").to_number<int64_t>();  // accepted or refused: no longer waiting to go
    const int64_t final = r.at("terminal").to_number<int64_t>();
    const auto now = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(now - last_t).count();
    if (dt >= 1.0) {
      rate = static_cast<double>(sent - last_sent) / dt;
      last_sent = sent;
      last_t = now;
    }
    const std::string state = json::value_to<std::string>(r.at("state"));
    const bool done = state == "done";
    const double eta = rate > 0 ? static_cast<double>(total - sent) / rate : 0;
    const std::string line = fmt::format(
        "accepted {}/{}  refused {}  delivered {}  failed {}  undelivered {}  {:.0f} msg/s  {}", sent - refused, total,
        refused, count(r, "delivered"), count(r, "failed"), count(r, "undelivered"), rate,
        done ? std::string("done")
             : state == "sending" ? (rate > 0 ? fmt::format("ETA {:.0f}s", eta) : "ETA -") : state);
    if (tty) {
      out << fmt::format("\r[{}] {:3.0f}%  {}\x1b[K", bar(total ? static_cast<double>(final) / total : 0, 30),
                         total ? 100.0 * static_cast<double>(final) / total : 0, line)
          << std::flush;
    } else if (done || now - last_print >= std::chrono::seconds(2)) {
      out << line << "\n" << std::flush;
      last_print = now;
    }
    if (done) {
      if (tty) out << "\n";
      return r;
    }
    if (now - start > o.timeout) {
      out << fmt::format("\nsluice alert: {} of {} recipients at a final status after {}s; giving up\n", final, total,
                         std::chrono::duration_cast<std::chrono::seconds>(o.timeout).count());
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int alert_status_command(const AlertOptions& o) {
  const AdminAnswer a = admin_call(o.admin, o.token, "GET", "/api/alerts/" + o.id);
  if (a.status != 200) {
    std::cerr << "sluice alert status: " << error_of(a) << "\n";
    return a.status == 404 ? 2 : 1;
  }
  if (o.json)
    std::cout << json::serialize(a.body) << "\n";
  else
    print_report(a.body.as_object(), std::cout);
  return 0;
}

}  // namespace sluice::cli
