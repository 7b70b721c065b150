#include "connectors/sqs/client.h"

#include <openssl/evp.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "core/hex.h"
#include "logging/log.h"
#include "aws/credentials_provider.h"
#include "net/http_client.h"

namespace sluice::connectors::sqs {

namespace json = boost::json;

namespace {

// Error types SQS answers when it sheds load (JSON protocol names, and the
// query protocol's older ones that emulators still use).
bool throttled(std::string_view type) {
  for (std::string_view t : {"ThrottlingException", "RequestThrottled", "TooManyRequestsException",
                             "ServiceUnavailable", "RequestLimitExceeded", "KmsThrottled"})
    if (type.ends_with(t)) return true;
  return false;
}

// "com.amazonaws.sqs#QueueDoesNotExist" -> "QueueDoesNotExist".
std::string short_type(std::string_view type) {
  const size_t hash = type.rfind('#');
  return std::string(hash == std::string_view::npos ? type : type.substr(hash + 1));
}

const json::object* object_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v ? v->if_object() : nullptr;
}

std::string string_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  const auto* s = v ? v->if_string() : nullptr;
  return s ? std::string(*s) : std::string();
}

core::Result<json::object> parse_object(std::string_view body, const char* action) {
  boost::system::error_code ec;
  json::value v = json::parse(body.empty() ? std::string_view("{}") : body, ec);
  if (ec || !v.is_object())
    return core::fail(core::Errc::invalid_payload,
                      fmt::format("SQS {}: the answer is not a JSON object: {}", action, body.substr(0, 200)));
  return std::move(v.as_object());
}

core::Result<std::vector<EntryFailure>> failures_of(std::string_view body, const char* action) {
  auto o = parse_object(body, action);
  if (!o) return std::unexpected(o.error());
  std::vector<EntryFailure> out;
  if (const auto* failed = o->if_contains("Failed"); failed && failed->is_array()) {
    for (const auto& f : failed->as_array()) {
      if (!f.is_object()) continue;
      const auto& e = f.as_object();
      const auto* sender = e.if_contains("SenderFault");
      out.push_back({string_at(e, "Id"), sender && sender->is_bool() && sender->as_bool(), string_at(e, "Code"),
                     string_at(e, "Message")});
    }
  }
  return out;
}

json::array entries_json(const std::vector<Entry>& entries, const char* value_key, bool with_visibility) {
  json::array out;
  for (const auto& e : entries) {
    json::object o{{"Id", e.id}, {value_key, e.value}};
    if (with_visibility) o["VisibilityTimeout"] = e.visibility.count();
    for (const auto& [k, v] : e.extra) o[k] = v;
    out.push_back(std::move(o));
  }
  return out;
}

// SQS bills each 64 KiB of a request's payload as one request.
constexpr size_t kBilledChunk = 64 * 1024;

// 0: the HTTP client's request_timeout.
constexpr std::chrono::nanoseconds kDefaultTimeout{0};

}  // namespace

std::string md5_hex(std::string_view body) {
  std::array<unsigned char, 16> d{};
  unsigned int n = 0;
  EVP_Digest(body.data(), body.size(), d.data(), &n, EVP_md5(), nullptr);
  return core::hex({reinterpret_cast<const char*>(d.data()), d.size()});
}

std::string region_of_queue_url(const std::string& url) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) return {};
  const std::string decoded = u->host();  // host() builds a string: keep it while viewing it
  std::string_view host = decoded;
  // sqs.<region>.amazonaws.com[.cn], or the legacy <region>.queue.amazonaws.com
  if (host.starts_with("sqs.")) {
    host.remove_prefix(4);
    const size_t dot = host.find('.');
    if (dot != std::string_view::npos && host.substr(dot).starts_with(".amazonaws.com")) return std::string(host.substr(0, dot));
  }
  if (const size_t at = host.find(".queue.amazonaws.com"); at != std::string_view::npos) return std::string(host.substr(0, at));
  return {};
}

Client::Client(std::shared_ptr<net::HttpTransport> http, Settings settings, Meter meter)
    : http_(std::move(http)),
      settings_(std::move(settings)),
      meter_(std::move(meter)) {
  if (auto u = boost::urls::parse_absolute_uri(settings_.endpoint)) {
    const bool tls = u->scheme() == "https";
    const std::string port(u->port());
    host_ = std::string(u->host());
    if (!port.empty() && port != (tls ? "443" : "80")) host_ += ":" + port;
  }
  while (!settings_.endpoint.empty() && settings_.endpoint.back() == '/') settings_.endpoint.pop_back();
}

boost::asio::awaitable<core::Result<std::shared_ptr<const aws::Signer>>> Client::signer() {
  auto credentials = co_await settings_.credentials->get();
  if (!credentials) co_return std::unexpected(credentials.error());
  std::lock_guard lock(signer_mu_);
  if (signed_with_ != *credentials) {
    signer_ = std::make_shared<const aws::Signer>(**credentials, settings_.region, "sqs");
    signed_with_ = *credentials;
  }
  co_return signer_;
}

boost::asio::awaitable<core::Result<std::string>> Client::call(const char* action, std::string body,
                                                               std::chrono::nanoseconds timeout,
                                                               std::shared_ptr<net::Cancellation> cancel) {
  aws::SignedRequest signed_req{"POST",
                                "/",
                                "",
                                {{"Host", host_},
                                 {"Content-Type", "application/x-amz-json-1.0"},
                                 {"X-Amz-Target", std::string("AmazonSQS.") + action}},
                                std::move(body)};
  auto signing = co_await signer();
  if (!signing) co_return std::unexpected(signing.error());
  (*signing)->sign(signed_req, std::chrono::system_clock::now());
  net::ClientRequest req{"POST", settings_.endpoint + "/", std::move(signed_req.headers), std::move(signed_req.body),
                         timeout, std::move(cancel)};
  const size_t sent_bytes = req.body.size();
  auto r = co_await http_->request(std::move(req));
  if (meter_) meter_(action, 1 + std::max(sent_bytes, r ? r->body.size() : size_t{0}) / kBilledChunk);
  if (!r) co_return std::unexpected(r.error());
  if (r->status == 200) co_return std::move(r->body);
  // {"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "..."}
  std::string type, message;
  if (auto o = parse_object(r->body, action)) {
    type = short_type(string_at(*o, "__type"));
    message = string_at(*o, "message");
    if (message.empty()) message = string_at(*o, "Message");
  }
  if (type.empty()) type = "HTTP " + std::to_string(r->status);
  const std::string detail = fmt::format("SQS {}: {}{}{} (HTTP {})", action, type, message.empty() ? "" : ": ",
                                         message.substr(0, 300), r->status);
  const bool retry = r->status >= 500 || r->status == 429 || throttled(type);
  co_return core::fail(retry ? core::Errc::unavailable : core::Errc::io_error, detail);
}

boost::asio::awaitable<core::Result<std::vector<Received>>> Client::receive(const std::string& queue_url,
                                                                            ReceiveOptions options) {
  json::object req{{"QueueUrl", queue_url},
                   {"MaxNumberOfMessages", options.max_messages},
                   {"WaitTimeSeconds", options.wait.count()},
                   {"AttributeNames", json::array{"All"}},
                   {"MessageSystemAttributeNames", json::array{"All"}},
                   {"MessageAttributeNames", json::array{"All"}}};
  if (options.visibility_timeout.count() > 0) req["VisibilityTimeout"] = options.visibility_timeout.count();
  // The long poll itself, and time for the answer to come back.
  const auto timeout = options.wait + std::chrono::seconds(10);
  std::string request = json::serialize(req);  // named: see async/blocking.h
  auto body = co_await call("ReceiveMessage", std::move(request), timeout, std::move(options.cancel));
  if (!body) co_return std::unexpected(body.error());
  auto o = parse_object(*body, "ReceiveMessage");
  if (!o) co_return std::unexpected(o.error());
  std::vector<Received> out;
  const auto* messages = o->if_contains("Messages");
  if (!messages) co_return out;
  if (!messages->is_array())
    co_return core::fail(core::Errc::invalid_payload, "SQS ReceiveMessage: Messages is not a list");
  for (const auto& v : messages->as_array()) {
    if (!v.is_object()) co_return core::fail(core::Errc::invalid_payload, "SQS ReceiveMessage: a message is not an object");
    const auto& m = v.as_object();
    Received r{string_at(m, "MessageId"), string_at(m, "ReceiptHandle"), string_at(m, "Body"), {}, {}};
    if (r.receipt_handle.empty())
      co_return core::fail(core::Errc::invalid_payload, "SQS ReceiveMessage: a message has no ReceiptHandle");
    // Damaged on the way: not delivered; it comes back after its
    // visibility timeout.
    if (const std::string md5 = string_at(m, "MD5OfBody"); !md5.empty() && md5 != md5_hex(r.body)) {
      logging::limited(logging::Level::warn, "sqs-md5:" + queue_url,
                       fmt::format("sqs {}: message {} arrived with a body whose MD5 does not match MD5OfBody; left "
                                   "to come back after its visibility timeout",
                                   queue_url, r.message_id));
      continue;
    }
    if (const auto* attrs = object_at(m, "Attributes"))
      for (const auto& [k, a] : *attrs)
        if (a.is_string()) r.attributes[std::string(k)] = std::string(a.as_string());
    if (const auto* attrs = object_at(m, "MessageAttributes"))
      for (const auto& [k, a] : *attrs)
        if (a.is_object())
          if (std::string s = string_at(a.as_object(), "StringValue"); !s.empty() || a.as_object().contains("StringValue"))
            r.message_attributes[std::string(k)] = std::move(s);
    out.push_back(std::move(r));
  }
  co_return out;
}

boost::asio::awaitable<core::Result<std::vector<EntryFailure>>> Client::batch(const char* action,
                                                                              const std::string& queue_url,
                                                                              std::vector<Entry> entries,
                                                                              const char* value_key,
                                                                              bool with_visibility) {
  const json::object req{{"QueueUrl", queue_url}, {"Entries", entries_json(entries, value_key, with_visibility)}};
  std::string request = json::serialize(req);  // named, as `none`: see async/blocking.h
  std::shared_ptr<net::Cancellation> none;
  auto body = co_await call(action, std::move(request), kDefaultTimeout, none);
  if (!body) co_return std::unexpected(body.error());
  co_return failures_of(*body, action);
}

boost::asio::awaitable<core::Result<std::vector<EntryFailure>>> Client::delete_batch(const std::string& queue_url,
                                                                                     std::vector<Entry> entries) {
  co_return co_await batch("DeleteMessageBatch", queue_url, std::move(entries), "ReceiptHandle", false);
}

boost::asio::awaitable<core::Result<std::vector<EntryFailure>>> Client::change_visibility_batch(
    const std::string& queue_url, std::vector<Entry> entries) {
  co_return co_await batch("ChangeMessageVisibilityBatch", queue_url, std::move(entries), "ReceiptHandle", true);
}

boost::asio::awaitable<core::Result<std::vector<EntryFailure>>> Client::send_batch(const std::string& queue_url,
                                                                                   std::vector<Entry> entries) {
  co_return co_await batch("SendMessageBatch", queue_url, std::move(entries), "MessageBody", false);
}

boost::asio::awaitable<core::Result<std::map<std::string, std::string>>> Client::queue_attributes(
    const std::string& queue_url) {
  const json::object req{{"QueueUrl", queue_url}, {"AttributeNames", json::array{"All"}}};
  std::string request = json::serialize(req);  // named, as `none`: see async/blocking.h
  std::shared_ptr<net::Cancellation> none;
  auto body = co_await call("GetQueueAttributes", std::move(request), kDefaultTimeout, none);
  if (!body) co_return std::unexpected(body.error());
  auto o = parse_object(*body, "GetQueueAttributes");
  if (!o) co_return std::unexpected(o.error());
  std::map<std::string, std::string> out;
  if (const auto* attrs = object_at(*o, "Attributes"))
    for (const auto& [k, a] : *attrs)
      if (a.is_string()) out[std::string(k)] = std::string(a.as_string());
  co_return out;
}

}  // namespace sluice::connectors::sqs
