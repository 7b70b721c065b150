#include "alerts/queue_api.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <charconv>

#include "admin/server.h"
#include "alerts/bearer.h"
#include "connectors/queue/queue.h"
#include "connectors/queue/store.h"
#include "core/utf8.h"
#include "net/form.h"
#include "runtime/component.h"

namespace sluice::alerts {

namespace {

namespace json = boost::json;
using admin::Request;
using admin::Response;
using connectors::queue::Store;

constexpr std::string_view kDead = ".dead";

json::value metadata_object(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec || !v.is_object() ? json::value(json::object{}) : v;
}

// "/api/queues/NAME/ACTION" -> {NAME, ACTION}; NAME is percent-decoded.
std::optional<std::pair<std::string, std::string>> split(const std::string& path) {
  const std::string rest = path.substr(std::string_view("/api/queues/").size());
  const size_t slash = rest.rfind('/');
  if (slash == std::string::npos || slash == 0) return std::nullopt;
  auto name = net::percent_decode(rest.substr(0, slash), false);
  if (!name) return std::nullopt;
  return std::pair{*name, rest.substr(slash + 1)};
}

class QueueApi {
 public:
  explicit QueueApi(std::shared_ptr<Store> store) : store_(std::move(store)) {}

  Response list() const {
    json::array queues;
    for (const auto& [name, depth] : store_->queues()) {
      const bool dead = name.ends_with(kDead);
      json::object q{{"name", name}, {"depth", depth}, {"dead", dead}};
      if (dead) q["requeue_to"] = name.substr(0, name.size() - kDead.size());
      queues.push_back(std::move(q));
    }
    return Response::json(200, json::serialize(json::object{{"queues", std::move(queues)}}));
  }

  boost::asio::awaitable<Response> messages(const std::string& queue, const Request& req) const {
    auto query = net::parse_form(req.query);
    if (!query) co_return Response::error(400, "bad query string: " + query.error());
    int64_t after = 0;
    size_t limit = 100;
    for (const auto& [key, value] : *query) {
      if (key != "after" && key != "limit") co_return Response::error(400, "unknown parameter '" + core::clip(key, 32) + "'");
      int64_t n = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 0)
        co_return Response::error(400, key + " must be a whole number");
      if (key == "after") after = n;
      else limit = std::min<size_t>(static_cast<size_t>(n), 1000);
    }
    auto rows = co_await store_->peek(queue, after, limit);
    if (!rows) co_return Response::error(503, rows.error().to_string());
    json::array out;
    for (const auto& r : *rows)
      out.push_back(json::object{{"id", r.id},
                                 {"payload", r.payload},
                                 {"metadata", metadata_object(r.metadata_json)},
                                 {"failed_deliveries", r.failed_deliveries},
                                 {"enqueued_at_ms", r.enqueued_at_ms}});
    co_return Response::json(200, json::serialize(json::object{{"depth", store_->depth(queue)}, {"messages", std::move(out)}}));
  }

  // requeue or delete: {"ids": [...]} or {"all": true}.
  boost::asio::awaitable<Response> act(const std::string& queue, const std::string& action, const Request& req) const {
    if (!queue.ends_with(kDead) || queue.size() == kDead.size())
      co_return Response::error(400, "only dead-letter queues (NAME.dead) can be requeued or deleted from");
    boost::system::error_code ec;
    const json::value v = json::parse(req.body, ec);
    const json::object* o = ec ? nullptr : v.if_object();
    if (!o) co_return Response::error(400, "send a JSON object: {\"ids\": [...]} or {\"all\": true}");
    std::vector<int64_t> ids;
    const json::value* all = o->if_contains("all");
    const json::value* list = o->if_contains("ids");
    if (all && all->is_bool() && all->as_bool() && !list) {
      // every row: an empty list
    } else if (list && list->is_array() && !list->as_array().empty() && !all) {
      for (const auto& e : list->as_array()) {
        if (!e.is_int64() || e.as_int64() <= 0) co_return Response::error(400, "every id must be a positive integer");
        ids.push_back(e.as_int64());
      }
    } else {
      co_return Response::error(400, "send either {\"ids\": [...]} (not empty) or {\"all\": true}");
    }
    if (action == "requeue") {
      const std::string target = queue.substr(0, queue.size() - kDead.size());
      auto moved = co_await store_->move(queue, std::move(ids), target);
      if (!moved) co_return Response::error(503, moved.error().to_string());
      co_return Response::json(200, json::serialize(json::object{{"requeued", *moved}, {"to", target}}));
    }
    auto removed = co_await store_->remove(queue, std::move(ids));
    if (!removed) co_return Response::error(503, removed.error().to_string());
    co_return Response::json(200, json::serialize(json::object{{"deleted", *removed}}));
  }

 private:
  std::shared_ptr<Store> store_;
};

}  // namespace

void install_queue_api(admin::Server& server, runtime::BuildContext& ctx, const std::string& token) {
  auto api = std::make_shared<QueueApi>(connectors::shared_queue_store(ctx));
  server.route_async("GET", "/api/queues", with_bearer(token, [api](const Request&) -> boost::asio::awaitable<Response> {
    co_return api->list();
  }));
  server.route_async("GET", "/api/queues/*", with_bearer(token, [api](const Request& req) -> boost::asio::awaitable<Response> {
    auto parts = split(req.path);
    if (!parts || parts->second != "messages") co_return Response::error(404, "not found");
    co_return co_await api->messages(parts->first, req);
  }));
  server.route_async("POST", "/api/queues/*", with_bearer(token, [api](const Request& req) -> boost::asio::awaitable<Response> {
    auto parts = split(req.path);
    if (!parts || (parts->second != "requeue" && parts->second != "delete")) co_return Response::error(404, "not found");
    co_return co_await api->act(parts->first, parts->second, req);
  }));
}

}  // namespace sluice::alerts
