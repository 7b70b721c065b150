#include <boost/json.hpp>
#include <fmt/format.h>

#include "connectors/http/http.h"
#include "connectors/http/client_settings.h"
#include "connectors/http/response_outcome.h"
#include "net/form.h"
#include "net/http_client.h"
#include "runtime/component.h"

namespace sluice::connectors {
namespace {

using runtime::WriteOutcome;

class HttpClientOutput final : public runtime::MessageOutput {
 public:
  HttpClientOutput(const config::Values& v, runtime::BuildContext& ctx)
      : url_(v.tmpl("url")), method_(v.str("method")), encoding_(v.str("encoding")) {
    if (v.has("body")) body_ = v.tmpl("body");
    if (v.has("headers")) headers_ = v.tmpl_map("headers");
    if (v.has("content_type")) content_type_ = v.str("content_type");
    if (v.has("bearer_token")) auth_ = "Bearer " + v.str("bearer_token");
    const auto& basic = v.object("basic_auth");
    if (basic.has("username")) auth_ = net::basic_auth(basic.str("username"), basic.str("password"));
    if (v.has("success_codes"))
      for (const auto& c : v.list("success_codes")) success_.push_back(std::stoi(c));
    client_ = http_client_for(v, ctx);
  }



 private:
  bool success(int status) const {
    if (success_.empty()) return status >= 200 && status < 300;
    return std::find(success_.begin(), success_.end(), status) != success_.end();
  }

  // The request body and its content type, per `encoding` (or `body`).
  core::Result<std::pair<std::string, std::string>> body_of(const core::Message& m) const {
    if (body_) {
      auto text = body_->render(m);
      if (!text) return std::unexpected(text.error());
      return std::pair{std::move(*text), content_type_.value_or("text/plain; charset=utf-8")};
    }
    if (encoding_ == "form") {
      const auto* json = m.json();
      if (!json || !json->is_object())
        return core::fail(core::Errc::invalid_payload, "encoding: form needs a JSON object payload");
      net::Form form;
      for (const auto& [k, v] : json->as_object()) {
        std::string value;
        tmpl::append_value(v, value);
        form.push_back({std::string(k), std::move(value)});
      }
      return std::pair{net::encode_form(form), std::string("application/x-www-form-urlencoded")};
    }
    if (encoding_ == "json" && !m.json())
      return core::fail(core::Errc::invalid_payload, "encoding: json needs a JSON payload");
    return std::pair{m.payload(), content_type_.value_or(encoding_ == "json" ? "application/json"
                                                                              : "application/octet-stream")};
  }

  runtime::Task<WriteOutcome> send(core::Message& m) override {
    auto url = url_.render(m);
    if (!url) co_return WriteOutcome::reject(url.error().to_string());
    auto body = body_of(m);
    if (!body) co_return WriteOutcome::reject(body.error().to_string());
    net::ClientRequest req{method_, std::move(*url), {{"Content-Type", body->second}}, std::move(body->first)};
    if (auth_) req.headers.emplace_back("Authorization", *auth_);
    for (const auto& [name, t] : headers_) {
      auto value = t.render(m);
      if (!value) co_return WriteOutcome::reject(value.error().to_string());
      req.headers.emplace_back(name, std::move(*value));
    }
    auto r = co_await client_->request(std::move(req));
    if (!r) co_return outcome_for_error(r.error());
    m.meta().set("http_status", std::to_string(r->status));
    if (success(r->status)) co_return WriteOutcome::ok();
    co_return outcome_for_status(*r, fmt::format("HTTP {}: {}", r->status, r->body.substr(0, 200)));
  }

  tmpl::Template url_;
  std::string method_;
  std::string encoding_;
  std::optional<tmpl::Template> body_;
  config::TemplateMap headers_;
  std::optional<std::string> content_type_;
  std::optional<std::string> auth_;
  std::vector<int> success_;
  std::shared_ptr<net::HttpTransport> client_;
};

}  // namespace

config::ComponentSpec http_client_output_spec() {
  using config::Type;
  return {
      .name = "http_client",
      .kind = config::Kind::output,
      .summary = "Sends each message as one HTTP request over pooled keep-alive connections (TLS verified). "
                 "The body is the payload (encoding json or raw), the payload's JSON fields form-encoded "
                 "(encoding form), or the `body` template. 2xx (or success_codes) confirms; 429, 5xx and "
                 "timeouts retry with backoff, honouring Retry-After; other statuses fail for good. Metadata "
                 "http_status holds the answer's status.",
      .fields = with_http_client_fields({{.name = "url", .type = Type::tmpl, .doc = "Request URL; may use {{fields}}.", .required = true},
                 {.name = "method", .doc = "HTTP method.", .default_value = "POST",
                  .choices = {"POST", "PUT", "PATCH", "DELETE", "GET"}},
                 {.name = "encoding", .doc = "How the payload becomes the body.", .default_value = "json",
                  .choices = {"json", "form", "raw"}},
                 {.name = "body", .type = Type::tmpl, .doc = "Template for the body instead of the payload."},
                 {.name = "content_type", .doc = "Content-Type to send instead of the encoding's."},
                 {.name = "headers", .type = Type::tmpl_map, .doc = "Extra headers, values are templates."},
                 {.name = "bearer_token", .doc = "Sends Authorization: Bearer <token>.", .secret = true},
                 {.name = "basic_auth",
                  .type = Type::object,
                  .doc = "HTTP Basic auth.",
                  .children = {{.name = "username", .doc = "User."},
                               {.name = "password", .doc = "Password.", .secret = true}}},
                 {.name = "success_codes", .type = Type::string_list, .doc = "Statuses that confirm; default any 2xx."}},
                                        "30s"),
      .example = "output:\n  http_client:\n    url: https://api.example.com/events/{{id}}\n    bearer_token: \"${API_TOKEN}\"\n"
                 "  max_in_flight: 16",
      .validate =
          [](const config::Values& v) {
            const auto& basic = v.object("basic_auth");
            if (basic.has("username") != basic.has("password"))
              throw v.error("basic_auth", "basic_auth needs both username and password");
            if (basic.has("username") && v.has("bearer_token"))
              throw v.error("bearer_token", "use basic_auth or bearer_token, not both");
            if (v.has("success_codes"))
              for (const auto& c : v.list("success_codes"))
                if (c.size() != 3 || !std::all_of(c.begin(), c.end(), ::isdigit) || c[0] < '1' || c[0] > '5')
                  throw v.error("success_codes", "success_codes must be HTTP statuses like 200, got '" + c + "'");
          },
      .make_output = runtime::build<HttpClientOutput>,
  };
}

}  // namespace sluice::connectors
