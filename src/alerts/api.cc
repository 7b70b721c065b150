#include "alerts/api.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <charconv>
#include <limits>
#include <random>

#include "admin/server.h"
#include "alerts/bearer.h"
#include "alerts/dashboard_html.h"
#include "alerts/queue_api.h"
#include "alerts/recipients.h"
#include "alerts/resend_json.h"
#include "async/blocking.h"
#include "config/config.h"
#include "connectors/ledger/ledger.h"
#include "connectors/queue/queue.h"
#include "connectors/queue/store.h"
#include "core/clock.h"
#include "core/utf8.h"
#include "net/form.h"
#include "logging/log.h"
#include "runtime/component.h"

namespace sluice::alerts {

namespace {

namespace json = boost::json;
using admin::Request;
using admin::Response;

constexpr size_t kMaxBodyChars = 1600;  // Twilio's limit for one message body

std::string new_alert_id() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("al_{:x}{:06x}", core::unix_ms(), rng() & 0xffffff);
}

class AlertApi {
 public:
  AlertApi(AlertsSettings cfg, std::shared_ptr<ledger::Store> ledger,
           std::shared_ptr<connectors::queue::Store> store)
      : cfg_(cfg), ledger_(std::move(ledger)), store_(std::move(store)) {}

  // The alert's fields, from a JSON object, or for `Content-Type: text/csv`
  // from the query string (?body=...&from=...&skip_invalid=true) with the
  // CSV file as the request body.
  struct NewAlert {
    std::string body, from;
    OnInvalid on_invalid = OnInvalid::refuse_alert;
    ledger::ResendPolicy resend;
    Recipients recipients;
  };

  boost::asio::awaitable<Response> create(const Request& req) {
    auto alert = req.media_type() == "text/csv" ? from_csv_upload(req) : from_json(req);
    if (!alert) co_return Response::error(400, alert.error());
    if (alert->body.empty()) co_return Response::error(400, "'body' must be a non-empty string");
    if (!alert->from.empty() && !valid_sender(alert->from))
      co_return Response::error(400, "'from' must be an E.164 number (+15551234567), an alphanumeric sender ID (up to "
                                     "11 letters, digits and spaces) or a Messaging Service SID (MG...)");
    if (core::utf8_length(alert->body) > kMaxBodyChars)
      co_return Response::error(400, fmt::format("'body' is longer than {} characters", kMaxBodyChars));
    const auto& numbers = alert->recipients.numbers;
    if (alert->recipients.over_limit)
      co_return Response::error(413, fmt::format("more than {} recipients", cfg_.max_recipients));

    const ledger::AlertInfo info{.id = new_alert_id(),
                                 .created_ms = core::unix_ms(),
                                 .recipients = static_cast<int64_t>(numbers.size()),
                                 .body = alert->body,
                                 .from = alert->from,
                                 .resend = alert->resend};
    // All or nothing: the ledger first (a send is never recorded against an
    // unknown alert), then one enqueue commit; if that fails, the ledger
    // forgets the alert again.
    auto created = co_await ledger_->create_alert(info);
    if (!created) co_return refused(created.error());
    // One message per recipient, {"alert_id", "to", "body", "from"}, written
    // by the store as it commits: no second copy of a million recipients.
    auto write = [&info, &numbers](size_t i, std::string& out) {
      connectors::append_send_message(out, {.alert_id = info.id, .to = numbers[i], .body = info.body, .from = info.from});
    };
    auto enqueued = co_await store_->enqueue_generated(cfg_.queue, numbers.size(), write);
    if (!enqueued) {
      auto removed = co_await ledger_->remove_alert(info.id);
      if (!removed)
        logging::error("alert {} could not be enqueued ({}) and stays in the ledger with no messages: {}", info.id,
                      enqueued.error().to_string(), removed.error().to_string());
      co_return refused(enqueued.error());
    }
    json::object out{{"id", info.id},
                     {"recipients", info.recipients},
                     {"duplicates_removed", static_cast<int64_t>(alert->recipients.duplicates)}};
    if (alert->on_invalid == OnInvalid::skip) {
      json::array rows;
      for (const auto& r : alert->recipients.refused_list) rows.push_back(json::object{{"where", r.where}, {"value", r.value}});
      out["refused"] = static_cast<int64_t>(alert->recipients.refused);
      out["refused_rows"] = std::move(rows);  // the first kListedRefusals
    }
    co_return Response::json(201, json::serialize(out));
  }

  size_t max_numbers() const { return static_cast<size_t>(cfg_.max_recipients); }
  // An alert with the config's defaults, before the request's fields.
  NewAlert with_defaults() const {
    NewAlert a;
    a.from = cfg_.from;
    a.resend = cfg_.resend;
    return a;
  }

  std::expected<NewAlert, std::string> from_json(const Request& req) const {
    // One arena for the whole document: a million recipients are a million
    // small strings, and per-string allocations would double the memory.
    json::monotonic_resource arena;
    boost::system::error_code ec;
    const json::value v = json::parse(req.body, ec, &arena);
    if (ec || !v.is_object()) return std::unexpected("send a JSON object: {\"body\", \"recipients\"}");
    const auto& o = v.as_object();
    NewAlert a = with_defaults();
    const auto* body = o.if_contains("body");
    if (!body || !body->is_string()) return std::unexpected("'body' must be a non-empty string");
    a.body = std::string(body->as_string());
    if (const auto* f = o.if_contains("from")) {
      if (!f->is_string()) return std::unexpected("'from' must be a string");
      a.from = std::string(f->as_string());
    }
    if (const auto* skip = o.if_contains("skip_invalid")) {
      if (!skip->is_bool()) return std::unexpected("'skip_invalid' must be true or false");
      if (skip->as_bool()) a.on_invalid = OnInvalid::skip;
    }
    if (const auto* resend = o.if_contains("resend")) {
      auto policy = resend_from_json(*resend);
      if (!policy) return std::unexpected(policy.error());
      a.resend = std::move(*policy);
    }
    const auto* list = o.if_contains("recipients");
    if (!list) return std::unexpected("'recipients' is missing: a list of numbers or CSV text");
    std::expected<Recipients, std::string> recipients;
    if (list->is_string()) {
      recipients = recipients_from_csv(list->as_string(), a.on_invalid, max_numbers());
    } else if (list->is_array()) {
      std::vector<std::string_view> views;
      views.reserve(list->as_array().size());
      for (const auto& e : list->as_array()) {
        if (!e.is_string()) return std::unexpected("every recipient must be a string like \"+15551234567\"");
        views.emplace_back(e.as_string());
      }
      recipients = recipients_from_list(views, a.on_invalid, max_numbers());
    } else {
      return std::unexpected("'recipients' must be a list of numbers or CSV text");
    }
    if (!recipients) return std::unexpected(recipients.error());
    a.recipients = std::move(*recipients);
    return a;
  }

  std::expected<NewAlert, std::string> from_csv_upload(const Request& req) const {
    auto query = net::parse_form(req.query);
    if (!query) return std::unexpected("bad query string: " + query.error());
    NewAlert a = with_defaults();
    for (const auto& [key, value] : *query) {
      if (key == "body") a.body = value;
      else if (key == "from") a.from = value;
      else if (key == "skip_invalid" && (value == "true" || value == "false"))
        a.on_invalid = value == "true" ? OnInvalid::skip : OnInvalid::refuse_alert;
      else if (key == "skip_invalid") return std::unexpected("skip_invalid must be true or false");
      else return std::unexpected("unknown parameter '" + core::clip(key, 32) + "' (a CSV upload takes body, from, skip_invalid)");
    }
    auto recipients = recipients_from_csv(req.body, a.on_invalid, max_numbers());
    if (!recipients) return std::unexpected(recipients.error());
    a.recipients = std::move(*recipients);
    return a;
  }

  // A full disk is worth retrying once space returns (503, Retry-After);
  // any other store failure is not (500).
  static Response refused(const core::Error& e) {
    if (!e.is(core::Errc::storage_full)) return Response::error(500, "the alert was not created: " + e.to_string());
    auto r = Response::error(503, "the alert was not created: the disk is full; try again once there is space");
    r.headers.emplace_back("Retry-After", "30");
    return r;
  }

  // Reports are computed by the store, off the I/O threads.
  boost::asio::awaitable<Response> list() const {
    auto reports = co_await ledger_->reports();
    if (!reports) co_return Response::error(503, reports.error().to_string());
    json::array alerts;
    const int64_t now = core::unix_ms();
    for (const auto& r : *reports) alerts.push_back(ledger::to_json(r, now));
    co_return Response::json(200, json::serialize(json::object{{"alerts", std::move(alerts)}}));
  }

  // GET /api/alerts/{id}/recipients?status=failed,undelivered&offset=0&limit=100&format=json|csv
  boost::asio::awaitable<Response> recipients(const std::string& id, const Request& req) const {
    auto query = net::parse_form(req.query);
    if (!query) co_return Response::error(400, "bad query string: " + query.error());
    std::vector<ledger::Status> statuses;
    size_t offset = 0, limit = 100;
    bool csv = false, limit_given = false;
    for (const auto& [key, value] : *query) {
      if (key == "status") {
        for (size_t at = 0; at <= value.size();) {
          const size_t comma = std::min(value.find(',', at), value.size());
          const std::string name = value.substr(at, comma - at);
          auto st = ledger::parse_status(name);
          if (!st) co_return Response::error(400, "unknown status '" + core::clip(name, 32) + "'");
          statuses.push_back(*st);
          at = comma + 1;
        }
      } else if (key == "offset" || key == "limit") {
        size_t n = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc() || end != value.data() + value.size())
          co_return Response::error(400, key + " must be a whole number");
        (key == "offset" ? offset : limit) = n;
        limit_given = limit_given || key == "limit";
      } else if (key == "format") {
        if (value != "json" && value != "csv") co_return Response::error(400, "format must be json or csv");
        csv = value == "csv";
      } else {
        co_return Response::error(400, "unknown parameter '" + core::clip(key, 32) + "'");
      }
    }
    if (!csv) limit = std::min<size_t>(limit, 10'000);
    else if (!limit_given) limit = std::numeric_limits<size_t>::max();  // CSV is the export: every row
    auto page = co_await ledger_->recipients(id, std::move(statuses), offset, limit);
    if (!page) co_return Response::error(503, page.error().to_string());
    if (!page->alert_found) co_return Response::error(404, "no alert " + core::clip(id, 64));
    if (csv) {
      std::string out = "recipient,status,error_code,sid,sent_at_ms,final_at_ms,attempts\n";
      for (const auto& m : page->messages)
        out += fmt::format("{},{},{},{},{},{},{}\n", csv_field(m.recipient), ledger::to_string(m.status),
                           csv_field(m.error_code), ledger::is_refused(m.sid) ? "" : csv_field(m.sid), m.send_ms,
                           m.final_ms < 0 ? std::string() : std::to_string(m.final_ms), m.attempt);
      Response r{200, "text/csv; charset=utf-8", std::move(out), {}};
      r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + id.substr(0, 64) + "-recipients.csv\"");
      co_return r;
    }
    json::array rows;
    for (const auto& m : page->messages)
      rows.push_back(json::object{{"recipient", m.recipient},
                                  {"status", ledger::to_string(m.status)},
                                  {"error_code", m.error_code},
                                  {"sid", ledger::is_refused(m.sid) ? "" : m.sid},
                                  {"sent_at_ms", m.send_ms},
                                  {"final_at_ms", m.final_ms < 0 ? json::value(nullptr) : json::value(m.final_ms)},
                                  {"attempts", m.attempt}});
    co_return Response::json(200, json::serialize(json::object{
                                      {"total", page->total}, {"offset", offset}, {"recipients", std::move(rows)}}));
  }

  boost::asio::awaitable<Response> one(const Request& req) const {
    std::string id = req.path.substr(std::string_view("/api/alerts/").size());
    if (id.ends_with("/recipients")) {
      id.resize(id.size() - std::string_view("/recipients").size());
      co_return co_await recipients(id, req);
    }
    auto report = co_await ledger_->report(id);
    if (!report) co_return Response::error(503, report.error().to_string());
    if (!*report) co_return Response::error(404, "no alert " + core::clip(id, 64));
    co_return Response::json(200, json::serialize(ledger::to_json(**report, core::unix_ms())));
  }

 private:
  // RFC 4180: quoted when it holds a comma, quote or line break.
  static std::string csv_field(const std::string& v) {
    if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
    std::string out = "\"";
    for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  }

  AlertsSettings cfg_;
  std::shared_ptr<ledger::Store> ledger_;
  std::shared_ptr<connectors::queue::Store> store_;
};

}  // namespace

config::SectionSpec section_spec() {
  return {.name = "alerts",
          .doc = "The alert API on the admin server (POST /api/alerts, GET /api/alerts[/ID]) and its dashboard.",
          .fields = {{.name = "queue", .doc = "Embedded queue that POST /api/alerts fills, one message per "
                                              "recipient: {\"alert_id\", \"to\", \"body\", \"from\"}."},
                     {.name = "from", .doc = "Sender used when an alert names none."},
                     {.name = "token", .doc = "Bearer token /api/alerts requires; none when unset.", .secret = true},
                     {.name = "max_recipients", .type = config::Type::integer, .doc = "Most recipients in one alert.",
                      .default_value = "1000000", .min = 1},
                     {.name = "resend",
                      .type = config::Type::object,
                      .doc = "Every alert's resend policy (an alert may name its own): undelivered or failed messages "
                             "with a listed error code are sent again `after` their final status, at most "
                             "`max_attempts` more times, never later than `window` after the alert was created. Needs "
                             "a `ledger_resend` input feeding the alert queue.",
                      .children = {{.name = "codes", .type = config::Type::string_list,
                                    .doc = "Error codes worth sending again, e.g. [30003, 30008]; none: no resend."},
                                   {.name = "after", .type = config::Type::duration,
                                    .doc = "How long after a failure it is sent again.", .default_value = "5m"},
                                   {.name = "max_attempts", .type = config::Type::integer,
                                    .doc = "Most resends per recipient.", .default_value = "2", .min = 1,
                                    .max = static_cast<double>(ledger::kMaxResends)},
                                   {.name = "window", .type = config::Type::duration,
                                    .doc = "How long after its creation an alert is still worth sending.",
                                    .default_value = "6h"}}}}};
}

AlertsSettings settings(const config::Values& v) {
  auto text = [&v](const char* name) { return v.has(name) ? v.str(name) : std::string(); };
  ledger::ResendPolicy resend;
  if (v.has("resend") && v.object("resend").has("codes")) {
    const auto& r = v.object("resend");
    auto ms = [&r](const char* name) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(r.duration(name)).count();
    };
    resend = {.codes = r.list("codes"), .after_ms = ms("after"), .max_attempts = r.integer("max_attempts"),
              .window_ms = ms("window")};
  }
  return {.queue = text("queue"),
          .from = text("from"),
          .token = text("token"),
          .max_recipients = v.has("max_recipients") ? v.integer("max_recipients") : 0,
          .resend = std::move(resend)};
}

void install_alert_api(admin::Server& server, runtime::BuildContext& ctx) {
  server.route("GET", "/", [](const Request&) {
    Response r{200, "text/html; charset=utf-8", kDashboardHtml, {}};
    // Everything is inline and same-origin: the page works offline and
    // loads nothing from anywhere else.
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                           "connect-src 'self'; img-src 'self' data:");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return r;
  });
  const AlertsSettings cfg = settings(ctx.config().section("alerts"));
  install_queue_api(server, ctx, cfg.token);
  if (cfg.queue.empty()) return;
  auto api = std::make_shared<AlertApi>(cfg, connectors::shared_ledger(ctx), connectors::shared_queue_store(ctx));
  // Room for max_recipients numbers of up to 64 bytes a row (a number, a
  // name, quotes), not the admin API's 1 MiB: about 64 MB for a million.
  const size_t max_request = (1u << 20) + static_cast<size_t>(cfg.max_recipients) * 64;
  server.route_async(
      "POST", "/api/alerts",
      with_bearer(cfg.token, [api](const Request& req) { return api->create(req); }), max_request);
  server.route_async("GET", "/api/alerts", with_bearer(cfg.token, [api](const Request&) { return api->list(); }));
  server.route_async("GET", "/api/alerts/*", with_bearer(cfg.token, [api](const Request& req) { return api->one(req); }));
}

}  // namespace sluice::alerts
