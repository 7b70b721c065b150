#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include "connectors/http/http.h"
#include "metrics/metrics.h"
#include "net/form.h"
#include "net/http_server.h"
#include "net/twilio_signature.h"
#include "async/blocking.h"
#include "core/clock.h"
#include "core/listen_address.h"
#include "core/utf8.h"
#include "logging/log.h"
#include "runtime/component.h"

namespace sluice::connectors {
namespace {

namespace asio = boost::asio;

// How a request that waits for its message's outcome ends.
enum class Outcome : uint8_t { delivered, errored, rejected, timed_out };

Outcome outcome_of(core::AckStatus s) {
  switch (s) {
    case core::AckStatus::delivered: return Outcome::delivered;
    case core::AckStatus::errored: return Outcome::errored;
    case core::AckStatus::rejected: return Outcome::rejected;
  }
  return Outcome::errored;
}

// One request waiting: for the message's ack, or for response_timeout,
// whichever comes first. Shared by the ack callback (any thread) and the
// timer; `answered` makes sure the request is resumed exactly once.
struct PendingAnswer {
  explicit PendingAnswer(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::atomic<bool> answered{false};
  // Set by the embedded queue once the message is committed (ack: delivered).
  std::shared_ptr<std::atomic<bool>> durable;
};

// One request's way through: HTTP in, message straight into the pipeline
// (a push input: no buffer of its own), answer when the message's ack
// resolves.
class HttpServerInput final : public runtime::Input {
 public:
  HttpServerInput(const config::Values& v, runtime::BuildContext& ctx)
      : max_pending_(static_cast<size_t>(v.integer("max_pending"))),
        follow_delivery_(v.str("ack") == "delivered"),
        response_timeout_(v.duration("response_timeout")),
        headers_(v.has("headers") ? v.list("headers") : std::vector<std::string>{}) {
    if (v.has("path")) paths_.push_back(v.str("path"));
    if (v.has("paths"))
      for (const auto& p : v.list("paths")) paths_.push_back(p);
    for (auto& h : headers_) std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return std::tolower(c); });
    const auto& verify = v.object("verify");
    if (verify.object("twilio").has("auth_token")) {
      const auto& t = verify.object("twilio");
      twilio_ = std::make_unique<net::twilio::Verifier>(t.str("auth_token"), t.str("public_url"));
      public_url_ = t.str("public_url");
    }
    const metrics::Labels l = {{"pipeline", ctx.pipeline()}, {"component", "http_server"}};
    auto& m = ctx.metrics();
    for (int code : {200, 202, 400, 403, 404, 405, 413, 415, 431, 500, 501, 503})
      responses_[code] = &m.counter("sluice_http_responses_total", "Webhook requests answered, by status code.",
                                    {l[0], l[1], {"code", std::to_string(code)}});
    signature_failures_ = &m.counter("sluice_http_signature_failures_total",
                                     "Requests refused because X-Twilio-Signature did not verify.", l);
    net::HttpServerOptions o;
    o.on_refused = [this](int code) { count(code); };
    o.address = v.str("address");
    o.max_body = static_cast<size_t>(v.integer("max_body"));
    o.max_header = static_cast<size_t>(v.integer("max_header"));
    o.request_timeout = request_timeout_ = v.duration("request_timeout");
    o.idle_timeout = v.duration("idle_timeout");
    if (v.has("max_connections")) o.max_connections = static_cast<size_t>(v.integer("max_connections"));
    const auto& tls = v.object("tls");
    if (tls.has("cert_file")) {
      o.tls_cert_file = tls.str("cert_file");
      o.tls_key_file = tls.str("key_file");
    }
    try {
      server_ = std::make_unique<net::HttpServer>(ctx.io(), o, [this](net::HttpRequest& r) { return handle(r); });
    } catch (const std::runtime_error& e) {
      throw v.error("address", e.what());
    }
  }

  size_t connect(runtime::Intake& intake) override {
    intake_ = &intake;
    return max_pending_;
  }

  // Bound at build time (a taken port is a config error); accepting starts
  // with the pipeline.
  runtime::Task<void> start() override {
    server_->start();
    co_return;
  }

  ~HttpServerInput() override { server_->stop(); }

  void close() override { server_->stop(); }

  // Every output finished, so every waiting request has its outcome: let
  // the answers reach their senders (a delivered message answered with a
  // reset would be sent again), and let no handler run once we are gone.
  runtime::Task<void> drain() override {
    const auto answered = co_await server_->answered(response_timeout_ + request_timeout_);
    if (!answered) logging::warn("http_server: shutting down with requests still unanswered; their senders will retry");
  }

 private:
  net::HttpResponse answer(int code, std::string_view message) {
    count(code);
    auto r = net::HttpResponse::error(code, message);
    if (code == 503) r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  // 403, counted and logged (at most every 5 s, with how many were left
  // out): the URL the signature was checked against is what an operator
  // compares with the one configured at Twilio. Never the token.
  net::HttpResponse refuse_signature(const net::HttpRequest& req, bool present, std::string_view mismatch) {
    signature_failures_->inc();
    const std::string url = public_url_ + (req.query.empty() ? "" : "?" + req.query);
    logging::limited(logging::Level::warn, "signature:" + public_url_,
                     fmt::format("http_server {}: refused a request: {}; the signature was checked over {} (its "
                                 "port variants too); check verify.twilio.public_url and auth_token",
                                 req.path, present ? std::string(mismatch) : "no X-Twilio-Signature header",
                                 core::clip(url, 300)));
    return answer(403, present ? mismatch : "missing X-Twilio-Signature");
  }
  void count(int code) {
    if (auto it = responses_.find(code); it != responses_.end()) it->second->inc();
  }

  runtime::Task<net::HttpResponse> handle(net::HttpRequest& req) {
    if (std::find(paths_.begin(), paths_.end(), req.path) == paths_.end()) co_return answer(404, "no such path");
    if (req.method != "POST") co_return answer(405, "use POST");

    const std::string media = req.media_type();
    core::Message m;
    if (media == "application/x-www-form-urlencoded") {
      auto form = net::parse_form(req.body);
      if (!form) co_return answer(400, "malformed form body: " + form.error());
      if (twilio_) {
        const std::string* sig = req.header("x-twilio-signature");
        if (!sig || !twilio_->form(req.query, *form, *sig))
          co_return refuse_signature(req, sig != nullptr, "X-Twilio-Signature does not match");
      }
      m.set_payload(net::form_to_json(*form));
    } else if (media == "application/json") {
      boost::system::error_code ec;
      boost::json::parse(req.body, ec);
      if (ec) co_return answer(400, "malformed JSON body: " + ec.message());
      if (twilio_) {
        const std::string* sig = req.header("x-twilio-signature");
        if (!sig || !twilio_->json(req.query, req.body, *sig))
          co_return refuse_signature(req, sig != nullptr, "X-Twilio-Signature or bodySHA256 does not match");
      }
      m.set_payload(std::move(req.body));
    } else {
      co_return answer(415, "send application/x-www-form-urlencoded or application/json");
    }
    m.meta().set("received_at", std::to_string(core::unix_ms()));  // the ledger's time of a callback
    m.meta().set("http_method", req.method);
    m.meta().set("http_path", req.path);
    if (!req.query.empty()) m.meta().set("http_query", req.query);
    for (const auto& h : headers_)
      if (const auto* value = req.header(h)) m.meta().set("header_" + h, *value);

    auto pending = std::make_shared<PendingAnswer>(co_await asio::this_coro::executor);
    if (follow_delivery_) pending->durable = std::make_shared<std::atomic<bool>>(false);
    auto start = [&m, &pending, this](std::function<void(Outcome)> resume) { wait_for_ack(m, pending, resume); };
    const Outcome outcome = co_await async::await_callback<Outcome>(std::move(start));  // named: see async/blocking.h
    switch (outcome) {
      case Outcome::delivered:
        count(200);
        co_return net::HttpResponse{200, "application/json", R"({"status":"accepted"})", {}};
      case Outcome::errored:
        co_return answer(503, "not accepted; try again");
      case Outcome::rejected:
        co_return answer(500, "the message failed for good");
      case Outcome::timed_out:
        break;
    }
    // Stored but not yet delivered: the sender must not retry (that would
    // send it twice), so 202. Not even stored: it may still be, but the
    // sender may retry; at least once.
    if (pending->durable && pending->durable->load(std::memory_order_acquire)) {
      count(202);
      co_return net::HttpResponse{202, "application/json", R"({"status":"queued"})", {}};
    }
    co_return answer(503, "not confirmed within response_timeout; try again");
  }

  // Sends `m` into the pipeline and calls `resume` exactly once: with the
  // message's outcome, or timed_out after response_timeout.
  void wait_for_ack(core::Message& m, const std::shared_ptr<PendingAnswer>& pending,
                    const std::function<void(Outcome)>& resume) {
    auto finish = [pending, resume](Outcome o) {
      if (!pending->answered.exchange(true, std::memory_order_acq_rel)) resume(o);
    };
    // The timer is armed before the message can be acked, and only the ack
    // callback cancels it afterwards: one thread at a time touches it.
    pending->timer.expires_after(response_timeout_);
    pending->timer.async_wait([finish](boost::system::error_code ec) {
      if (!ec) finish(Outcome::timed_out);
    });
    m.set_ack(core::AckHandle::make([pending, finish](core::AckStatus s) {
      finish(outcome_of(s));
      pending->timer.cancel();
    }));
    if (pending->durable) m.ack().state()->follow_delivery(pending->durable);
    // Refused: the pipeline is saturated (or stopping), so refuse instead of
    // queueing without bound. Dropping the handle reports "errored" through it.
    if (!intake_->try_push(m)) m.set_ack(core::AckHandle{});
  }

  runtime::Intake* intake_ = nullptr;
  size_t max_pending_;
  bool follow_delivery_;
  std::chrono::nanoseconds response_timeout_;
  std::chrono::nanoseconds request_timeout_{};
  std::vector<std::string> paths_;
  std::vector<std::string> headers_;
  std::unique_ptr<net::twilio::Verifier> twilio_;
  std::string public_url_;
  std::map<int, metrics::Counter*> responses_;
  metrics::Counter* signature_failures_;
  std::unique_ptr<net::HttpServer> server_;
};

}  // namespace

config::ComponentSpec http_server_input_spec() {
  using config::Type;
  return {
      .name = "http_server",
      .kind = config::Kind::input,
      .summary =
          "Receives webhooks on its own listener. Form bodies become a JSON object (a repeated field becomes an "
          "array); JSON bodies pass as they are. Metadata: http_method, http_path, http_query and header_<name> for "
          "the headers listed, and received_at (unix ms). Each request is answered 200 once its message is confirmed "
          "(see `ack`), 503 with Retry-After when it could not be taken (saturated, shutting down, a full disk), 500 "
          "when it failed for good. Bad requests: 400 malformed (also HTTP/1.1 without exactly one Host, or a "
          "Transfer-Encoding not ending in chunked), 403 bad signature, 404 path, 405 method, 413 body, 415 type or "
          "Content-Encoding, 431 headers, 501 a transfer coding other than chunked; a client too slow to send its "
          "request is cut off.",
      .fields =
          {{.name = "address", .doc = "host:port to listen on.", .required = true},
           {.name = "path", .doc = "Path to accept.", .default_value = "/"},
           {.name = "paths", .type = Type::string_list, .doc = "More paths to accept."},
           {.name = "headers", .type = Type::string_list, .doc = "Request headers to copy into metadata."},
           {.name = "verify",
            .type = Type::object,
            .doc = "Signature checks.",
            .children = {{.name = "twilio",
                          .type = Type::object,
                          .doc = "Check X-Twilio-Signature as Twilio's libraries do.",
                          .children = {{.name = "auth_token", .doc = "Twilio auth token.", .secret = true},
                                       {.name = "public_url",
                                        .doc = "The URL Twilio calls, as Twilio sees it (scheme, host, port, path; "
                                               "the request's query string is appended)."}}}}},
           {.name = "tls",
            .type = Type::object,
            .doc = "Serve HTTPS (TLS 1.2+).",
            .children = {{.name = "cert_file", .doc = "PEM certificate chain."},
                         {.name = "key_file", .doc = "PEM private key."}}},
           {.name = "max_body", .type = Type::size, .doc = "Largest body accepted (413 above).", .default_value = "1MiB",
            .min = 1},
           {.name = "max_header", .type = Type::size, .doc = "Largest header block accepted (431 above).",
            .default_value = "16KiB", .min = 1024},
           {.name = "request_timeout", .type = Type::duration, .doc = "Time a request may take to arrive.",
            .default_value = "10s", .min = 0.001},
           {.name = "idle_timeout", .type = Type::duration, .doc = "Keep-alive connections idle longer are closed.",
            .default_value = "60s", .min = 0.001},
           {.name = "max_connections", .type = Type::integer,
            .doc = "Open connections at most. Above it a new connection closes the oldest idle one, or is answered "
                   "503 with Retry-After when none is idle. Default and upper bound: the process's descriptor limit "
                   "(raised to the hard limit at start) less a tenth (at least 256) for stores, clients and the admin "
                   "API.",
            .min = 1},
           {.name = "ack",
            .doc = "When to answer 200. buffered: once the pipeline's outputs confirmed the message; with a queue "
                   "output, once it is durable there. delivered: with a queue output, once a downstream pipeline "
                   "delivered it from that queue (500 if it went to `<queue>.dead`); otherwise as buffered.",
            .default_value = "buffered",
            .choices = {"buffered", "delivered"}},
           {.name = "response_timeout", .type = Type::duration,
            .doc = "Longest wait for the message's confirmation. Then: 202 if it is durable in the queue but not "
                   "yet delivered (ack: delivered), else 503 with Retry-After (a retry may deliver it twice).",
            .default_value = "10s", .min = 0.001},
           {.name = "max_pending", .type = Type::integer,
            .doc = "Requests that may wait in the pipeline for its output (or processors); more are answered "
                   "503 with Retry-After.",
            .default_value = "4096", .min = 1}},
      .example = "input:\n  http_server:\n    address: 127.0.0.1:4196\n    path: /twilio/status\n"
                 "    verify: {twilio: {auth_token: \"${TWILIO_AUTH_TOKEN}\", public_url: "
                 "\"https://hooks.example.com/twilio/status\"}}",
      .validate =
          [](const config::Values& v) {
            if (auto a = core::parse_listen_address(v.str("address")); !a) throw v.error("address", a.error());
            if (!v.str("path").starts_with('/')) throw v.error("path", "path must start with '/'");
            if (v.has("paths"))
              for (const auto& p : v.list("paths"))
                if (!p.starts_with('/')) throw v.error("paths", "each of paths must start with '/', got '" + p + "'");
            const auto& t = v.object("verify").object("twilio");
            if (t.has("auth_token") != t.has("public_url"))
              throw v.error("verify", "verify.twilio needs both auth_token and public_url");
            if (t.has("public_url") && !boost::urls::parse_absolute_uri(t.str("public_url")))
              throw v.error("verify", "verify.twilio.public_url must be an absolute URL like https://host/path");
            const auto& tls = v.object("tls");
            if (tls.has("cert_file") != tls.has("key_file"))
              throw v.error("tls", "tls needs both cert_file and key_file");
          },
      .make_input = runtime::build<HttpServerInput>,
  };
}

}  // namespace sluice::connectors
