// The elasticsearch output: one `_bulk` request per batch (split by bytes),
// and a write outcome per document from the answer's items. A whole-request
// 413 halves the request until it fits; 429/503 back off; a URL that cannot
// be reached hands the request to the next one.
#include <fmt/format.h>

#include <atomic>
#include <optional>

#include "config/config.h"
#include "connectors/elasticsearch/bulk.h"
#include "connectors/elasticsearch/elasticsearch.h"
#include "connectors/elasticsearch/index_name.h"
#include "connectors/http/client_settings.h"
#include "connectors/http/response_outcome.h"
#include "core/message.h"
#include "logging/log.h"
#include "metrics/metrics.h"
#include "net/form.h"
#include "net/gzip.h"
#include "net/http_client.h"
#include "runtime/build_context.h"
#include "runtime/component.h"
#include "template/template.h"

namespace sluice::connectors {
namespace {

namespace es = elasticsearch;
using runtime::WriteOutcome;

// One document of a write: its message's index in the batch, and its two
// NDJSON lines.
struct Operation {
  size_t message;
  std::string text;
};

es::Action action_of(const std::string& name) {
  if (name == "create") return es::Action::create;
  if (name == "update") return es::Action::update;
  return es::Action::index;
}

class ElasticsearchOutput final : public runtime::Output {
 public:
  ElasticsearchOutput(const config::Values& v, runtime::BuildContext& ctx)
      : urls_(v.list("urls")),
        action_(action_of(v.str("action"))),
        index_(v.tmpl("index")),
        dated_(es::has_date_pattern(v.tmpl("index").source())),
        max_batch_(static_cast<size_t>(v.integer("max_batch"))),
        max_bytes_(static_cast<size_t>(v.integer("max_bytes"))),
        gzip_(v.str("compression") == "gzip"),
        client_(http_client_for(v, ctx)) {
    for (auto& u : urls_)
      while (u.ends_with('/')) u.pop_back();
    if (v.has("id")) id_ = v.tmpl("id");
    if (v.has("routing")) routing_ = v.tmpl("routing");
    if (v.has("pipeline")) query_ = "?pipeline=" + net::percent_encode(v.str("pipeline"));
    if (v.has("timestamp_field")) timestamp_field_ = v.str("timestamp_field");
    const auto& basic = v.object("basic_auth");
    if (basic.has("username")) auth_ = net::basic_auth(basic.str("username"), basic.str("password"));
    if (v.has("api_key")) auth_ = "ApiKey " + v.str("api_key");
    if (v.has("bearer_token")) auth_ = "Bearer " + v.str("bearer_token");
    auto& m = ctx.metrics();
    const metrics::Labels l = {{"pipeline", ctx.pipeline()}};
    for (const char* outcome : {"ok", "retry", "reject"})
      items_[outcome_index(outcome)] = &m.counter("sluice_elasticsearch_items_total",
                                                  "Bulk items by what their result meant: ok, retry, reject.",
                                                  {l[0], {"outcome", outcome}});
    for (const char* answer : {"2xx", "413", "429", "4xx", "5xx", "none"})
      requests_[answer_index(answer)] = &m.counter("sluice_elasticsearch_requests_total",
                                                   "Bulk requests by the class of their answer (none: no answer).",
                                                   {l[0], {"answer", answer}});
  }

  size_t max_batch() const override { return max_batch_; }

  runtime::Task<runtime::BatchOutcome> write(core::Batch& batch) override {
    runtime::BatchOutcome outcome;
    std::vector<Operation> ops;
    ops.reserve(batch.size());
    const auto now = std::chrono::system_clock::now();
    for (size_t i = 0; i < batch.size(); ++i) {
      auto op = operation_of(batch.messages[i], now);
      if (!op) outcome.set(i, batch.size(), WriteOutcome::reject(op.error().to_string()));
      else ops.push_back({i, std::move(*op)});
    }
    // Requests of at most max_bytes (one document larger goes alone).
    std::vector<Operation> chunk;
    size_t bytes = 0;
    for (auto& op : ops) {
      if (!chunk.empty() && bytes + op.text.size() > max_bytes_) {
        co_await send(std::move(chunk), batch, outcome);
        chunk = {};
        bytes = 0;
      }
      bytes += op.text.size();
      chunk.push_back(std::move(op));
    }
    if (!chunk.empty()) co_await send(std::move(chunk), batch, outcome);
    co_return outcome;
  }

 private:
  static size_t outcome_index(std::string_view o) { return o == "ok" ? 0 : o == "retry" ? 1 : 2; }
  static size_t answer_index(std::string_view a) {
    constexpr std::string_view names[] = {"2xx", "413", "429", "4xx", "5xx", "none"};
    for (size_t i = 0; i < std::size(names); ++i)
      if (names[i] == a) return i;
    return 5;
  }
  static std::string_view answer_class(int status) {
    if (status == 413 || status == 429) return status == 413 ? "413" : "429";
    return status >= 500 ? "5xx" : status >= 400 ? "4xx" : "2xx";
  }

  // The two NDJSON lines of message `m`, or why it cannot be indexed.
  core::Result<std::string> operation_of(const core::Message& m, es::Time now) const {
    const auto* json = m.json();
    if (!json || !json->is_object())
      return core::fail(core::Errc::invalid_payload, "the payload is not a JSON object, which Elasticsearch needs");
    es::Target target;
    auto index = index_.render(m);
    if (!index) return std::unexpected(index.error());
    if (dated_) {
      std::optional<es::Time> t;
      if (timestamp_field_) {
        t = es::time_of(m, *timestamp_field_);
        if (!t) return core::fail(core::Errc::invalid_payload,
                                  fmt::format("timestamp_field {} is absent or not a time", *timestamp_field_));
      }
      *index = es::expand_date(*index, t.value_or(now));
    }
    if (index->empty()) return core::fail(core::Errc::missing_field, "the index name renders empty");
    target.index = std::move(*index);
    if (id_) {
      auto id = id_->render(m);
      if (!id) return std::unexpected(id.error());
      if (id->empty() && action_ == es::Action::update)
        return core::fail(core::Errc::missing_field, "update needs an id, and `id` renders empty");
      target.id = std::move(*id);
    }
    if (routing_) {
      auto routing = routing_->render(m);
      if (!routing) return std::unexpected(routing.error());
      target.routing = std::move(*routing);
    }
    std::string text;
    const std::string& payload = m.payload();
    // A document must be one line; re-serialise a pretty-printed one.
    if (payload.find_first_of("\r\n") == std::string::npos)
      es::append_operation(text, action_, target, payload);
    else
      es::append_operation(text, action_, target, boost::json::serialize(*json));
    return text;
  }

  // Sends one request of `ops` and sets each one's outcome.
  runtime::Task<void> send(std::vector<Operation> ops, core::Batch& batch, runtime::BatchOutcome& outcome) {
    const size_t n = batch.size();
    auto set_all = [&](const WriteOutcome& o) {
      for (const auto& op : ops) set(outcome, op.message, n, o);
    };
    std::string body;
    for (const auto& op : ops) body += op.text;
    auto r = co_await post(std::move(body));
    if (!r) {
      requests_[5]->inc();
      set_all(outcome_for_error(r.error()));
      co_return;
    }
    requests_[answer_index(answer_class(r->status))]->inc();
    if (r->status == 413) {
      if (ops.size() == 1) {
        set_all(WriteOutcome::reject(fmt::format(
            "the document ({} bytes as NDJSON) is larger than the cluster takes (HTTP 413, http.max_content_length)",
            ops[0].text.size())));
        co_return;
      }
      // Halve until each part fits.
      std::vector<Operation> rest(std::make_move_iterator(ops.begin() + static_cast<ptrdiff_t>(ops.size() / 2)),
                                  std::make_move_iterator(ops.end()));
      ops.resize(ops.size() / 2);
      co_await send(std::move(ops), batch, outcome);
      co_await send(std::move(rest), batch, outcome);
      co_return;
    }
    if (r->status == 401 || r->status == 403) {
      // The credentials, not the documents: retry, and say so.
      set_all(WriteOutcome::retry(
          fmt::format("Elasticsearch refused the credentials (HTTP {}): {}", r->status, es::error_of(r->body))));
      co_return;
    }
    if (r->status < 200 || r->status >= 300) {
      set_all(outcome_for_status(*r, fmt::format("Elasticsearch answered HTTP {}: {}", r->status,
                                                 es::error_of(r->body))));
      co_return;
    }
    auto items = es::parse_response(r->body, ops.size());
    if (!items) {
      // Nothing is known of any document: send them all again (index with
      // an id is idempotent; without one a retry may index twice).
      set_all(WriteOutcome::retry(items.error().to_string()));
      co_return;
    }
    for (size_t k = 0; k < ops.size(); ++k) {
      const auto& item = (*items)[k];
      WriteOutcome o = es::outcome_of(item);
      if (o.kind == WriteOutcome::Kind::ok && !item.id.empty()) batch.messages[ops[k].message].meta().set("es_id", item.id);
      set(outcome, ops[k].message, n, std::move(o));
    }
  }

  void set(runtime::BatchOutcome& outcome, size_t i, size_t n, WriteOutcome o) {
    items_[o.kind == WriteOutcome::Kind::ok ? 0 : o.kind == WriteOutcome::Kind::retry ? 1 : 2]->inc();
    if (o.kind != WriteOutcome::Kind::ok) outcome.set(i, n, std::move(o));
  }

  // POSTs to the current URL; one that cannot be reached hands the request
  // to the next (nothing was sent there), and the next becomes current.
  runtime::Task<core::Result<net::ClientResponse>> post(std::string body) {
    if (gzip_) body = net::gzip(body);
    core::Result<net::ClientResponse> r = core::fail(core::Errc::unavailable, "no URL");
    const size_t first = current_.load(std::memory_order_relaxed);
    for (size_t k = 0; k < urls_.size(); ++k) {
      const size_t at = (first + k) % urls_.size();
      net::ClientRequest req{"POST", urls_[at] + "/_bulk" + query_,
                             {{"Content-Type", "application/x-ndjson"}, {"Accept", "application/json"}},
                             k + 1 < urls_.size() ? body : std::move(body)};
      if (gzip_) req.headers.emplace_back("Content-Encoding", "gzip");
      if (auth_) req.headers.emplace_back("Authorization", *auth_);
      r = co_await client_->request(std::move(req));
      if (r || !r.error().is(core::Errc::unavailable)) {
        if (k > 0) current_.store(at, std::memory_order_relaxed);
        co_return r;
      }
      if (urls_.size() > 1)
        logging::limited(logging::Level::warn, "elasticsearch failover",
                         fmt::format("elasticsearch {}: {}; trying {}", urls_[at], r.error().to_string(),
                                     urls_[(at + 1) % urls_.size()]));
    }
    co_return r;
  }

  std::vector<std::string> urls_;
  es::Action action_;
  tmpl::Template index_;
  bool dated_;
  std::optional<tmpl::Template> id_, routing_;
  std::string query_;
  std::optional<std::string> timestamp_field_;
  std::optional<std::string> auth_;
  size_t max_batch_, max_bytes_;
  bool gzip_;
  std::shared_ptr<net::HttpTransport> client_;
  std::atomic<size_t> current_{0};
  metrics::Counter* items_[3] = {};
  metrics::Counter* requests_[6] = {};
};

}  // namespace

config::ComponentSpec elasticsearch_output_spec() {
  using config::Type;
  return {
      .name = "elasticsearch",
      .kind = config::Kind::output,
      .summary = "Indexes JSON documents with the _bulk API of Elasticsearch 7 or 8 or OpenSearch 1 or 2: one "
                 "request per batch (split at max_bytes), a result per document. Items refused with 429 or 5xx "
                 "are retried alone; other refusals (a mapping error, a `create` of an existing id) are rejected "
                 "to the dead letter with Elasticsearch's error type and reason. A whole-request 413 halves the "
                 "request; 429 and 503 back off. Metadata es_id holds the id Elasticsearch used.",
      .fields = with_http_client_fields(
          {{.name = "urls", .type = Type::string_list, .doc = "Cluster URLs, e.g. [https://es1:9200, "
                                                               "https://es2:9200]; one that cannot be reached hands "
                                                               "the request to the next.", .required = true},
           {.name = "index", .type = Type::tmpl,
            .doc = "Index (or data stream) name; may use {{fields}}, and %Y %m %d %H %j %V %G from the document's "
                   "time (timestamp_field, else the time of the write), e.g. logs-%Y.%m.%d.",
            .required = true},
           {.name = "action", .doc = "index (create or replace), create (fails on an existing id; data streams "
                                     "need it) or update (doc_as_upsert: merge into the document, or create it).",
            .default_value = "index", .choices = {"index", "create", "update"}},
           {.name = "id", .type = Type::tmpl, .doc = "Document id; default: Elasticsearch picks one. Needed by "
                                                     "update. With an id, a retried document is not indexed twice."},
           {.name = "routing", .type = Type::tmpl, .doc = "Shard routing value."},
           {.name = "pipeline", .doc = "Ingest pipeline to run the documents through."},
           {.name = "timestamp_field", .doc = "Field (or meta.<key>) holding the document's time for the index "
                                              "name: RFC 3339 text, or epoch seconds or milliseconds."},
           {.name = "basic_auth", .type = Type::object, .doc = "HTTP Basic auth.",
            .children = {{.name = "username", .doc = "User."},
                         {.name = "password", .doc = "Password.", .secret = true}}},
           {.name = "api_key", .doc = "API key (the base64 `encoded` value): Authorization: ApiKey <key>.",
            .secret = true},
           {.name = "bearer_token", .doc = "Sends Authorization: Bearer <token>.", .secret = true},
           {.name = "compression", .doc = "gzip compresses each request (Content-Encoding: gzip).",
            .default_value = "none", .choices = {"none", "gzip"}},
           {.name = "max_batch", .type = Type::integer, .doc = "Most documents in one request.",
            .default_value = "500", .min = 1, .max = 100000},
           {.name = "max_bytes", .type = Type::size, .doc = "Largest request body before compression; keep it "
                                                            "under the cluster's http.max_content_length (100mb).",
            .default_value = "5MiB", .min = 1024}},
          "30s"),
      .example = "output:\n  elasticsearch:\n    urls: [https://es1:9200, https://es2:9200]\n"
                 "    index: orders-%Y.%m.%d\n    id: \"{{order_id}}\"\n    api_key: \"${ES_API_KEY}\"\n"
                 "  batching: {count: 500, period: 1s}",
      .validate =
          [](const config::Values& v) {
            if (v.list("urls").empty()) throw v.error("urls", "urls needs at least one URL");
            for (const auto& u : v.list("urls"))
              if (auto problem = net::url_problem(u)) throw v.error("urls", *problem);
            if (auto problem = es::date_pattern_problem(v.tmpl("index").source())) throw v.error("index", *problem);
            if (v.str("action") == "update" && !v.has("id"))
              throw v.error("action", "action: update needs an `id` template");
            const auto& basic = v.object("basic_auth");
            if (basic.has("username") != basic.has("password"))
              throw v.error("basic_auth", "basic_auth needs both username and password");
            const int ways = basic.has("username") + v.has("api_key") + v.has("bearer_token");
            if (ways > 1) throw v.error("api_key", "use one of basic_auth, api_key and bearer_token");
          },
      .make_output = runtime::build<ElasticsearchOutput>,
  };
}

}  // namespace sluice::connectors
