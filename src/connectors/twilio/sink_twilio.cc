#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <memory>

#include "connectors/http/client_settings.h"
#include "connectors/http/response_outcome.h"
#include "connectors/twilio/api.h"
#include "connectors/twilio/twilio.h"
#include "core/clock.h"
#include "ledger/maybe_sent.h"
#include "ledger/resend.h"
#include "metrics/metrics.h"
#include "net/form.h"
#include "net/http_client.h"
#include "net/sms_segments.h"
#include "runtime/component.h"

namespace sluice::connectors {
namespace {

using runtime::WriteOutcome;

// Twilio error codes that mean "not now" rather than "never": the sender's
// queue is full (21611) or the carrier's queue overflowed (30001).
bool retry_later(int64_t code) { return code == 21611 || code == 30001; }

class TwilioOutput final : public runtime::MessageOutput {
 public:
  TwilioOutput(const config::Values& v, runtime::BuildContext& ctx)
      : url_(twilio::account_url(v) + "/Messages.json"),
        auth_(twilio::authorization(v)),
        to_(v.tmpl("to")),
        body_(v.tmpl("body")),
        segments_cost_(v.str("cost") == "segments") {
    if (v.has("from")) from_ = v.tmpl("from");
    if (v.has("messaging_service_sid")) service_ = v.str("messaging_service_sid");
    if (v.has("status_callback")) callback_ = v.tmpl("status_callback");
    if (v.has("validity_period")) validity_ = v.integer("validity_period");
    client_ = http_client_for(v, ctx);
    auto counter = [&ctx](const char* result) -> metrics::Counter& {
      return ctx.metrics().counter("sluice_twilio_earlier_attempts_total",
                                   "Messages that may have been sent before a crash, looked up at Twilio first: "
                                   "found (recorded, not sent again) or not_found (sent).",
                                   {{"pipeline", ctx.pipeline()}, {"result", result}});
    };
    found_ = &counter("found");
    not_found_ = &counter("not_found");
  }


  std::optional<double> cost(const core::Message& m) const override {
    if (!segments_cost_) return std::nullopt;
    auto body = body_.render(m);
    return body ? static_cast<double>(net::sms::count_segments(*body).count) : 1.0;
  }


 private:
  runtime::Task<WriteOutcome> send(core::Message& m) override {
    net::Form form;
    auto add = [&](const char* name, const tmpl::Template& t) -> std::optional<std::string> {
      auto value = t.render(m);
      if (!value) return value.error().to_string();
      if (value->empty()) return fmt::format("'{}' is empty", name);
      form.push_back({name, std::move(*value)});
      return std::nullopt;
    };
    if (auto err = add("To", to_)) co_return WriteOutcome::reject(*err);
    if (auto err = add("Body", body_)) co_return WriteOutcome::reject(*err);
    if (from_) {
      if (auto err = add("From", *from_)) co_return WriteOutcome::reject(*err);
    }
    if (service_) form.push_back({"MessagingServiceSid", *service_});
    if (callback_) {
      if (auto err = add("StatusCallback", *callback_)) co_return WriteOutcome::reject(*err);
    }
    if (const int64_t validity = validity_for(m); validity > 0) form.push_back({"ValidityPeriod", std::to_string(validity)});
    if (const std::string* attempted = m.meta().find(ledger::kMaybeSentMetadata)) {
      auto earlier = co_await find_earlier_attempt(m, form, *attempted);
      if (earlier) co_return std::move(*earlier);
    }

    net::ClientRequest req{"POST", url_,
                           {{"Authorization", auth_},
                            {"Content-Type", "application/x-www-form-urlencoded"},
                            {"Accept", "application/json"}},
                           net::encode_form(form)};
    auto r = co_await client_->request(std::move(req));
    if (!r) co_return outcome_for_error(r.error());
    const twilio::Answer answer(r->body);
    if (r->status == 200 || r->status == 201) {
      set_accepted(m, answer.field("sid"), answer.field("status"), answer.field("num_segments"), core::unix_ms());
      co_return WriteOutcome::ok();
    }
    const std::string code = answer.field("code");
    const std::string reason = answer.reason(*r);
    m.meta().set("twilio_error_code", code);
    int64_t code_value = 0;
    std::from_chars(code.data(), code.data() + code.size(), code_value);
    if (retry_later(code_value)) co_return WriteOutcome::overload(reason, retry_after(*r));
    co_return outcome_for_status(*r, reason);  // e.g. 21211 invalid number: rejected, never retried
  }

  static void set_accepted(core::Message& m, std::string sid, std::string status, std::string segments,
                           int64_t accepted_ms) {
    m.meta().set("twilio_sid", std::move(sid));
    m.meta().set("twilio_status", std::move(status));
    m.meta().set("twilio_segments", std::move(segments));
    m.meta().set("twilio_sent_at", std::to_string(accepted_ms));  // when the provider took it
  }

  // A message whose earlier attempt may have reached Twilio (its sender
  // crashed before recording the send): the newest messages to its To (and
  // From) are listed, and one with the same Body created since the attempt
  // (less a minute for clock skew) is taken as the send. Returns the outcome
  // when found or when Twilio cannot be asked (retried later: never a blind
  // second send); nullopt to send.
  runtime::Task<std::optional<WriteOutcome>> find_earlier_attempt(core::Message& m, const net::Form& form,
                                                                   const std::string& attempted) {
    int64_t attempted_ms = 0;
    std::from_chars(attempted.data(), attempted.data() + attempted.size(), attempted_ms);
    net::Form query{{"PageSize", "50"}};
    std::string body;
    for (const auto& f : form) {
      if (f.name == "To" || f.name == "From") query.push_back(f);
      if (f.name == "Body") body = f.value;
    }
    net::ClientRequest req{
        "GET", url_ + "?" + net::encode_form(query), {{"Authorization", auth_}, {"Accept", "application/json"}}, ""};
    auto r = co_await client_->request(std::move(req));
    if (!r) co_return outcome_for_error(r.error());
    if (r->status != 200)
      co_return outcome_for_status(*r, "looking for an earlier attempt: " + twilio::Answer(r->body).reason(*r));
    boost::system::error_code ec;
    const auto list = boost::json::parse(r->body, ec);
    const auto* messages = !ec && list.is_object() ? list.as_object().if_contains("messages") : nullptr;
    if (!messages || !messages->is_array())
      co_return WriteOutcome::retry("looking for an earlier attempt: Twilio's message list is not JSON");
    for (const auto& entry : messages->as_array()) {
      const twilio::Answer msg(entry);
      const int64_t created_ms = parse_rfc2822_ms(msg.field("date_created"));
      if (msg.field("body") != body || created_ms < attempted_ms - 60'000) continue;
      set_accepted(m, msg.field("sid"), msg.field("status"), msg.field("num_segments"), created_ms);
      found_->inc();
      co_return WriteOutcome::ok();
    }
    not_found_->inc();
    co_return std::nullopt;
  }

  // "Tue, 01 Dec 2026 19:20:36 +0000" -> unix ms; 0 when unreadable.
  static int64_t parse_rfc2822_ms(const std::string& date) {
    std::tm tm{};
    const char* end = ::strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S %z", &tm);
    if (!end) return 0;
    return (static_cast<int64_t>(::timegm(&tm)) - tm.tm_gmtoff) * 1000;
  }

  std::string url_;
  std::string auth_;
  tmpl::Template to_, body_;
  std::optional<tmpl::Template> from_, callback_;
  // The configured ValidityPeriod, or the message's own `validity_period`
  // (a resend: what is left of its alert's window) when that is shorter.
  int64_t validity_for(const core::Message& m) const {
    int64_t own = 0;
    if (auto text = message_validity_.render(m)) {
      const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), own);
      if (ec != std::errc() || end != text->data() + text->size() || own < 1 || own > ledger::kMaxValiditySeconds)
        own = 0;
    }
    if (own > 0 && validity_) return std::min(own, *validity_);
    return own > 0 ? own : validity_.value_or(0);
  }

  std::optional<std::string> service_;
  std::optional<int64_t> validity_;
  tmpl::Template message_validity_ = tmpl::Template::compile("{{validity_period}}").value();
  bool segments_cost_;
  std::shared_ptr<net::HttpTransport> client_;
  metrics::Counter* found_ = nullptr;
  metrics::Counter* not_found_ = nullptr;
};

}  // namespace

config::ComponentSpec twilio_output_spec() {
  using config::Type;
  return {
      .name = "twilio",
      .kind = config::Kind::output,
      .summary =
          "Sends each message as an SMS through Twilio's Messages API (POST {base_url}/2010-04-01/Accounts/"
          "{account_sid}/Messages.json, HTTP Basic auth). On a 2xx answer (Twilio sends 201) the message gets metadata twilio_sid, "
          "twilio_status, twilio_segments and twilio_sent_at (unix ms). 429 (20429), 5xx, timeouts, 21611 and 30001 are retried with "
          "backoff, honouring Retry-After; any other 4xx (e.g. 21211 invalid number) fails for good and goes to "
          "the dead letter with the code and message (metadata twilio_error_code). Point base_url at "
          "`sluice provider-sim` to test without Twilio.",
      .fields = with_http_client_fields(
          {{.name = "base_url", .doc = "API root.", .default_value = "https://api.twilio.com"},
           {.name = "account_sid", .doc = "Account SID (AC...).", .required = true},
           {.name = "auth_token", .doc = "Auth token.", .required = true, .secret = true},
           {.name = "from", .type = Type::tmpl, .doc = "Sender number; or use messaging_service_sid."},
           {.name = "messaging_service_sid", .doc = "Messaging Service (MG...) instead of from."},
           {.name = "to", .type = Type::tmpl, .doc = "Recipient, E.164.", .default_value = "{{to | required}}"},
           {.name = "body", .type = Type::tmpl, .doc = "Message text.", .default_value = "{{body | required}}"},
           {.name = "status_callback", .type = Type::tmpl, .doc = "URL Twilio posts delivery statuses to."},
           {.name = "validity_period", .type = Type::integer,
            .doc = "Seconds the message may wait in Twilio's queue. A message's own `validity_period` field (a resend "
                   "carries what is left of its alert's window) is used when it is shorter.",
            .min = 1, .max = static_cast<double>(ledger::kMaxValiditySeconds)},
           {.name = "cost", .doc = "What the output's rate limit counts: one per message, or its SMS segments.",
            .default_value = "message", .choices = {"message", "segments"}}},
          "15s"),
      .example = "output:\n  twilio:\n    account_sid: \"${TWILIO_ACCOUNT_SID}\"\n    auth_token: \"${TWILIO_AUTH_TOKEN}\"\n"
                 "    from: \"+15005550006\"\n    status_callback: https://hooks.example.com/twilio/status\n"
                 "  rate_limit: provider\n  max_in_flight: 32",
      .validate =
          [](const config::Values& v) {
            twilio::validate_account(v);
            if (v.has("from") == v.has("messaging_service_sid"))
              throw v.error("from", "twilio needs exactly one of 'from' or 'messaging_service_sid'");
          },
      .make_output = runtime::build<TwilioOutput>,
  };
}

}  // namespace sluice::connectors
