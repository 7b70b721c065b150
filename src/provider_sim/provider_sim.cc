#include "provider_sim/provider_sim.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <charconv>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <unordered_map>
#include <thread>

#include "logging/log.h"
#include "net/sms_segments.h"
#include "net/form.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/twilio_signature.h"
#include "provider_sim/messages.h"

namespace sluice::provider_sim {

namespace asio = boost::asio;
using net::HttpRequest;
using net::HttpResponse;

namespace {

int64_t now_ns() { return std::chrono::steady_clock::now().time_since_epoch().count(); }

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

HttpResponse twilio_error(int status, int code, std::string_view message) {
  boost::json::object o{{"code", code},
                        {"message", message},
                        {"more_info", fmt::format("https://www.twilio.com/docs/errors/{}", code)},
                        {"status", status}};
  return HttpResponse::json(status, boost::json::serialize(o));
}

asio::awaitable<void> sleep_for(std::chrono::nanoseconds d) {
  if (d.count() <= 0) co_return;
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

class Simulator {
 public:
  Simulator(asio::io_context& io, Options o) : io_(io), o_(std::move(o)), client_(io, {}), rng_(o_.seed) {}

  // --state: the records of an earlier run, and the lives of the messages
  // it had not finished, resumed at each sender's MPS as Twilio would.
  void resume(const std::string& path) {
    std::lock_guard lock(mu_);
    const auto replayed = messages_.open_journal(path);
    const auto unfinished = messages_.unfinished();
    logging::info("provider-sim: {} message(s) from {}, {} not final yet, resumed{}", replayed.messages, path,
                  unfinished.size(),
                  replayed.unreadable_lines ? fmt::format("; {} unreadable line(s) skipped", replayed.unreadable_lines) : "");
    const int64_t now = now_ns();
    for (const auto& m : unfinished) {
      const bool sent = m.sent_ms > 0;
      int64_t send_at = now;
      if (!sent) {
        auto& s = senders_[m.from];
        s.next_free_ns = std::max(s.next_free_ns, now);
        send_at = s.next_free_ns;
        s.next_free_ns += static_cast<int64_t>(1e9 / o_.mps);
      }
      auto lifecycle = [this, m, send_at, sent]() { return deliver(m.sid, m.to, m.from, m.callback, send_at, sent); };
      asio::co_spawn(io_, std::move(lifecycle), asio::detached);
    }
  }

  asio::awaitable<HttpResponse> handle(HttpRequest& req) {
    if (req.path == "/sim/stats") co_return HttpResponse::json(200, stats());
    static const std::regex messages_path(R"(^/2010-04-01/Accounts/(AC[0-9a-zA-Z]{32})/Messages\.json$)");
    static const std::regex message_path(R"(^/2010-04-01/Accounts/(AC[0-9a-zA-Z]{32})/Messages/([^/]+)\.json$)");
    std::smatch m;
    const std::string path = req.path;
    if (req.method == "GET" && std::regex_match(path, m, message_path)) {
      if (m[1].str() != o_.account_sid || !authorized(req)) co_return twilio_error(401, 20003, "Authenticate");
      std::lock_guard lock(mu_);
      ++counts_["lookups"];
      auto found = messages_.resource_json(m[2].str(), o_.account_sid);
      if (!found) co_return twilio_error(404, 20404, "The requested resource was not found");
      co_return HttpResponse::json(200, *found);
    }
    if (!std::regex_match(path, m, messages_path)) co_return twilio_error(404, 20404, "The requested resource was not found");
    if (req.method == "GET") {
      if (m[1].str() != o_.account_sid || !authorized(req)) co_return twilio_error(401, 20003, "Authenticate");
      auto query = net::parse_form(req.query);
      if (!query) co_return twilio_error(400, 20001, "Bad query string: " + query.error());
      std::lock_guard lock(mu_);
      ++counts_["list_requests"];
      auto list = messages_.list_json(*query, o_.account_sid);
      if (!list) co_return twilio_error(400, 20001, list.error());
      co_return HttpResponse::json(200, *list);
    }
    if (req.method != "POST") co_return twilio_error(405, 20004, "Method not allowed");

    struct InProgress {
      std::atomic<int64_t>& n;
      explicit InProgress(std::atomic<int64_t>& c) : n(c) { ++n; }
      ~InProgress() { --n; }
    } in_progress(in_progress_);
    if (in_progress_.load() > o_.max_concurrency) {
      count("rejected_20429");
      co_return twilio_error(429, 20429, "Too Many Requests");
    }
    if (m[1].str() != o_.account_sid || !authorized(req)) {
      count("rejected_20003");
      co_return twilio_error(401, 20003, "Authenticate");
    }
    co_await sleep_for(o_.latency);
    const double roll = random_unit();
    if (roll < o_.error_rate) {
      count("rejected_500");
      co_return twilio_error(500, 20500, "Internal Server Error");
    }
    if (roll < o_.error_rate + o_.throttle_rate) {
      count("rejected_20429");
      auto r = twilio_error(429, 20429, "Too Many Requests");
      r.headers.emplace_back("Retry-After", "1");
      co_return r;
    }
    auto form = net::parse_form(req.body);
    if (!form) co_return twilio_error(400, 21100, "Malformed request: " + form.error());
    auto field = [&](std::string_view name) -> std::string {
      for (const auto& f : *form)
        if (f.name == name) return f.value;
      return {};
    };
    const std::string to = field("To"), from = field("From"), service = field("MessagingServiceSid"),
                      body = field("Body"), callback = field("StatusCallback");
    static const std::regex e164(R"(^\+[1-9][0-9]{7,14}$)");
    if (to.empty()) co_return reject(21604, "A 'To' phone number is required.");
    if (!std::regex_match(to, e164)) co_return reject(21211, fmt::format("The 'To' number {} is not a valid phone number.", to));
    if (from.empty() && service.empty()) co_return reject(21603, "A 'From' or 'MessagingServiceSid' parameter is required.");
    if (body.empty()) co_return reject(21602, "Message body is required.");
    const std::string sender = from.empty() ? service : from;
    // Twilio drops a message still queued after its ValidityPeriod (30036).
    int64_t validity_s = 0;
    if (const std::string v = field("ValidityPeriod"); !v.empty()) {
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), validity_s);
      if (ec != std::errc() || end != v.data() + v.size() || validity_s < 1 || validity_s > 36000)
        co_return reject(21624, "Validity period can only be set to integers between 1 and 36,000 seconds.");
      count("with_validity_period");
    }

    // The sender's queue drains at its MPS; a full queue refuses (21611).
    const int64_t now = now_ns();
    int64_t send_at;
    std::string sid;
    {
      std::lock_guard lock(mu_);
      auto& s = senders_[sender];
      s.next_free_ns = std::max(s.next_free_ns, now);
      const double queued = static_cast<double>(s.next_free_ns - now) * o_.mps / 1e9;
      if (queued >= static_cast<double>(o_.queue_size)) {
        ++counts_["rejected_21611"];
        co_return twilio_error(400, 21611, "This 'From' number has exceeded the maximum number of queued messages");
      }
      send_at = s.next_free_ns;
      s.next_free_ns += static_cast<int64_t>(1e9 / o_.mps);
      // Sends accepted in the last second, for the busiest-window statistic.
      s.window.push_back(now);
      while (s.window.front() <= now - 1'000'000'000) s.window.pop_front();
      s.max_window = std::max<int64_t>(s.max_window, static_cast<int64_t>(s.window.size()));
      if (s.accepted++ == 0) s.first_ns = now;
      s.last_ns = now;
      sid = fmt::format("SM{:016x}{:016x}", sid_rng_(), sid_rng_());
      messages_.add({.sid = sid,
                     .to = to,
                     .from = sender,
                     .body = body,
                     .callback = callback,
                     .created_ms = unix_ms(),
                     .segments = static_cast<int64_t>(net::sms::count_segments(body).count)});
    }
    const auto segments = net::sms::count_segments(body);
    const bool expires = validity_s > 0 && send_at - now > validity_s * 1'000'000'000;
    auto lifecycle = [this, sid, to, from = sender, callback, send_at, expires]() {
      return deliver(sid, to, from, callback, send_at, false, expires);
    };
    asio::co_spawn(io_, std::move(lifecycle), asio::detached);

    const std::string date = rfc2822(unix_ms());
    boost::json::object o{
        {"account_sid", o_.account_sid}, {"api_version", "2010-04-01"}, {"body", body}, {"date_created", date},
        {"date_sent", nullptr}, {"date_updated", date}, {"direction", "outbound-api"}, {"error_code", nullptr},
        {"error_message", nullptr}, {"from", from.empty() ? boost::json::value(nullptr) : boost::json::value(from)},
        {"messaging_service_sid", service.empty() ? boost::json::value(nullptr) : boost::json::value(service)},
        {"num_media", "0"}, {"num_segments", std::to_string(segments.count)}, {"price", nullptr},
        {"price_unit", "USD"}, {"sid", sid}, {"status", service.empty() ? "queued" : "accepted"}, {"to", to},
        {"uri", fmt::format("/2010-04-01/Accounts/{}/Messages/{}.json", o_.account_sid, sid)}};
    co_return HttpResponse::json(201, boost::json::serialize(o));
  }

 private:
  struct Sender {
    int64_t next_free_ns = 0;
    std::deque<int64_t> window;
    int64_t max_window = 0;
    int64_t accepted = 0;
    int64_t first_ns = 0, last_ns = 0;
  };

  HttpResponse reject(int code, std::string_view message) {
    count("rejected_400");
    return twilio_error(400, code, message);
  }
  void count(const std::string& what, int64_t n = 1) {
    std::lock_guard lock(mu_);
    counts_[what] += n;
  }
  double random_unit() {
    std::lock_guard lock(mu_);
    return std::uniform_real_distribution<double>(0, 1)(rng_);
  }

  // One message's life after the 201: sent at its turn, then a final status.
  // `already_sent`: resumed after a restart, past its `sent`.
  // `expires`: its ValidityPeriod ends before its turn: failed (30036), never sent.
  asio::awaitable<void> deliver(std::string sid, std::string to, std::string from, std::string callback,
                                int64_t send_at, bool already_sent = false, bool expires = false) {
    co_await sleep_for(std::chrono::nanoseconds(send_at - now_ns()));
    if (expires) {
      {
        std::lock_guard lock(mu_);
        messages_.finish(sid, "failed", "30036");
      }
      if (!callback.empty()) co_await status_callback(callback, sid, to, from, "failed", "30036");
      co_return;
    }
    if (!already_sent) {
      std::lock_guard lock(mu_);
      messages_.mark_sent(sid, unix_ms());
    }
    // Sent on its own, as Twilio does: a held-back `sent` may arrive after
    // the final status.
    if (!callback.empty() && !already_sent) {
      auto sent = [this, callback, sid, to, from]() -> asio::awaitable<void> {
        co_await status_callback(callback, sid, to, from, "sent", "");
      };
      asio::co_spawn(io_, std::move(sent), asio::detached);
    }
    const double jitter = 0.5 + random_unit();
    co_await sleep_for(std::chrono::duration_cast<std::chrono::nanoseconds>(o_.delivery_delay * jitter));
    int64_t attempt = 1;
    {
      std::lock_guard lock(mu_);
      if (const SimMessage* msg = messages_.find(sid)) attempt = msg->attempt;
    }
    const double roll = random_unit();
    std::string status = "delivered", error;
    if (o_.first_attempt_undelivered > 0) {
      if (attempt == 1 && random_unit() < o_.first_attempt_undelivered) {
        status = "undelivered";
        error = "30003";  // unreachable now; the same text sent again gets through
      }
    } else if (roll < o_.p_failed) {
      status = "failed";
      error = "30008";  // unknown error
    } else if (roll < o_.p_failed + o_.p_undelivered) {
      status = "undelivered";
      error = "30003";  // unreachable handset
    }
    {
      std::lock_guard lock(mu_);
      messages_.finish(sid, status, error);
    }
    if (!callback.empty()) co_await status_callback(callback, sid, to, from, status, error);
  }


  // string_view parameters: callers pass literals, and a std::string
  // temporary inside co_await would trip GCC 12 (see async/blocking.h).
  asio::awaitable<void> status_callback(const std::string& url, const std::string& sid, const std::string& to,
                                        const std::string& from, std::string_view status, std::string_view error) {
    const std::string st(status);
    net::Form form = {{"AccountSid", o_.account_sid}, {"ApiVersion", "2010-04-01"}, {"From", from},
                      {"MessageSid", sid},           {"MessageStatus", st},       {"SmsSid", sid},
                      {"SmsStatus", st},             {"To", to}};
    if (!error.empty()) form.push_back({"ErrorCode", std::string(error)});
    if (status == "delivered" || status == "undelivered")
      form.push_back({"RawDlrDoneDate", fmt::format("{:%y%m%d%H%M}", fmt::gmtime(std::time(nullptr)))});
    if (random_unit() < o_.reorder) {  // held back: arrives after later callbacks
      co_await sleep_for(std::chrono::duration_cast<std::chrono::nanoseconds>(o_.delivery_delay * 2 * random_unit()));
    }
    const int copies = random_unit() < o_.duplicates ? 2 : 1;
    if (copies == 2) count("callbacks_duplicated");
    for (int copy = 0; copy < copies; ++copy) {
      net::ClientRequest req{"POST", url,
                             {{"Content-Type", "application/x-www-form-urlencoded"},
                              {"X-Twilio-Signature", net::twilio::compute_signature(o_.auth_token, url, form)}},
                             net::encode_form(form)};
      for (int attempt = 0;; ++attempt) {
        net::ClientRequest this_try = req;
        auto r = co_await client_.request(std::move(this_try));
        if (r && r->status >= 200 && r->status < 300) {
          count("callbacks_ok");
          break;
        }
        if (attempt == 5) {
          count("callbacks_failed");
          logging::warn("callback {} for {} failed for good: {}", status, sid,
                       r ? fmt::format("HTTP {}", r->status) : r.error().to_string());
          break;
        }
        count("callbacks_retried");
        co_await sleep_for(std::chrono::milliseconds(250) * (1 << attempt));
      }
    }
  }

  bool authorized(const HttpRequest& req) const {
    const std::string* auth = req.header("authorization");
    return auth && *auth == net::basic_auth(o_.account_sid, o_.auth_token);
  }

  std::string stats() {
    std::lock_guard lock(mu_);
    boost::json::object counts;
    for (const auto& [k, v] : counts_) counts[k] = v;
    for (const auto& [k, v] : messages_.counts()) counts[k] = v;  // kept across restarts with --state
    boost::json::object senders;
    int64_t max_window = 0;
    for (const auto& [name, s] : senders_) {
      const double span = static_cast<double>(s.last_ns - s.first_ns) / 1e9;
      senders[name] = {{"accepted", s.accepted},
                       {"max_accepted_in_one_second", s.max_window},
                       {"average_per_second", span > 0 ? static_cast<double>(s.accepted - 1) / span : 0.0}};
      max_window = std::max(max_window, s.max_window);
    }
    boost::json::object o{{"counts", counts}, {"senders", senders}, {"max_accepted_in_one_second", max_window}};
    return boost::json::serialize(o);
  }

  asio::io_context& io_;
  Options o_;
  net::HttpClient client_;
  std::mutex mu_;
  std::mt19937_64 rng_;  // outcomes: repeatable with --seed
  // Sids are unique across restarts, as Twilio's are, whatever the seed.
  std::mt19937_64 sid_rng_{(uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()};
  std::map<std::string, Sender> senders_;
  std::map<std::string, int64_t> counts_;
  MessageBook messages_;
  std::atomic<int64_t> in_progress_{0};
};

}  // namespace

int run(const Options& o) {
  asio::io_context io(2);
  Simulator sim(io, o);
  if (!o.state.empty()) {
    try {
      sim.resume(o.state);
    } catch (const std::exception& e) {
      logging::error("provider-sim: {}", e.what());
      return 1;
    }
  }
  net::HttpServerOptions so;
  so.address = o.address;
  so.server_name = "provider-sim";
  net::HttpServer server(io, so, [&sim](net::HttpRequest& r) { return sim.handle(r); });
  server.start();
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) {
    server.stop();
    io.stop();
  });
  logging::info("provider-sim on http://{} (account {}, {} msg/s per sender)", server.address(), o.account_sid, o.mps);
  std::thread second([&] { io.run(); });
  io.run();
  second.join();
  return 0;
}

}  // namespace sluice::provider_sim
