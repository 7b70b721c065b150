// twilio_lookup: asks Twilio's Messages API for the status of a message
// whose final status never came (GET .../Messages/{sid}.json), for the
// ledger to record (see the ledger_overdue input).
#include <fmt/format.h>

#include "connectors/http/client_settings.h"
#include "connectors/http/response_outcome.h"
#include "connectors/twilio/api.h"
#include "connectors/twilio/twilio.h"
#include "ledger/status.h"
#include "net/http_client.h"
#include "runtime/component.h"

namespace sluice::connectors {
namespace {

using runtime::WriteOutcome;

class TwilioLookup final : public runtime::MessageOutput {
 public:
  TwilioLookup(const config::Values& v, runtime::BuildContext& ctx)
      : messages_url_(twilio::account_url(v) + "/Messages/"),
        auth_(twilio::authorization(v)),
        sid_(v.tmpl("sid")),
        give_up_(v.tmpl("give_up")),
        client_(http_client_for(v, ctx)) {}

 private:
  runtime::Task<WriteOutcome> send(core::Message& m) override {
    auto sid = sid_.render(m);
    if (!sid || sid->empty()) co_return WriteOutcome::reject(fmt::format("no message sid ({})", sid_.source()));
    net::ClientRequest req{"GET", messages_url_ + *sid + ".json", {{"Authorization", auth_}, {"Accept", "application/json"}}, ""};
    auto r = co_await client_->request(std::move(req));
    if (!r) co_return outcome_for_error(r.error());
    const twilio::Answer answer(r->body);
    if (r->status == 404) {  // the provider does not know it (any more)
      const std::string code = answer.field("code");
      m.meta().set("twilio_status", "unknown");
      m.meta().set("twilio_error_code", code.empty() ? "20404" : code);
      co_return WriteOutcome::ok();
    }
    if (r->status != 200) co_return outcome_for_status(*r, answer.reason(*r));
    std::string status = answer.field("status");
    const auto known = ledger::parse_status(status);
    const bool final = known && ledger::is_terminal(*known);
    if (!final && give_up_.render(m).value_or("") == "true") status = "unknown";  // past its window
    m.meta().set("twilio_status", status);
    m.meta().set("twilio_error_code", answer.field("error_code"));
    co_return WriteOutcome::ok();
  }

  std::string messages_url_;
  std::string auth_;
  tmpl::Template sid_, give_up_;
  std::shared_ptr<net::HttpTransport> client_;
};

}  // namespace

config::ComponentSpec twilio_lookup_output_spec() {
  using config::Type;
  return {
      .name = "twilio_lookup",
      .kind = config::Kind::output,
      .summary =
          "Looks up each message's status through Twilio's Messages API (GET {base_url}/2010-04-01/Accounts/"
          "{account_sid}/Messages/{sid}.json) and sets metadata twilio_status and twilio_error_code, for a "
          "`then: ledger {record: statuses}` to record. A message the provider does not know (404) becomes "
          "`unknown`, and so does one still not final when `give_up` renders true. 429, 5xx and timeouts are "
          "retried with backoff. Fed by the `ledger_overdue` input, so every alert finishes.",
      .fields = with_http_client_fields(
          {{.name = "base_url", .doc = "API root.", .default_value = "https://api.twilio.com"},
           {.name = "account_sid", .doc = "Account SID (AC...).", .required = true},
           {.name = "auth_token", .doc = "Auth token.", .required = true, .secret = true},
           {.name = "sid", .type = Type::tmpl, .doc = "The message's sid.", .default_value = "{{sid}}"},
           {.name = "give_up", .type = Type::tmpl,
            .doc = "Renders `true` when a message still not final should become unknown.",
            .default_value = "{{give_up}}"}},
          "15s"),
      .example = "input:\n  ledger_overdue: {final_status_timeout: 10m}\noutput:\n  twilio_lookup:\n"
                 "    account_sid: \"${TWILIO_ACCOUNT_SID}\"\n    auth_token: \"${TWILIO_AUTH_TOKEN}\"\n"
                 "  then:\n    ledger: {record: statuses, sid: '{{sid}}', status: '{{meta.twilio_status}}', "
                 "error_code: '{{meta.twilio_error_code}}'}",
      .validate = twilio::validate_account,
      .make_output = runtime::build<TwilioLookup>,
  };
}

}  // namespace sluice::connectors
