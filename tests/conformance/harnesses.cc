// One harness per connector: how the conformance suite configures it, feeds
// its source and reads its peer. A new connector adds its harness here and
// one line in conformance_test.cc.
#include "harnesses.h"
#include "net/free_port.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "connectors/ledger/ledger.h"
#include "connectors/queue/queue.h"
#include "connectors/queue/store.h"
#include "net/form.h"
#include "net/http_server.h"
#include "runtime/component.h"
#include "sqlite/sqlite.h"

namespace sluice::conformance {

// --- shared by the harnesses (harnesses.h) -----------------------------------

int free_port() { return net::free_loopback_port(); }

std::string id_of(const std::string& json_text, const char* field) {
  boost::system::error_code ec;
  auto v = boost::json::parse(json_text, ec);
  if (ec || !v.is_object() || !v.as_object().contains(field)) return "<unreadable: " + json_text + ">";
  return std::string(v.as_object().at(field).as_string());
}

std::vector<std::string> ids_of(const std::vector<std::string>& jsons) {
  std::vector<std::string> out;
  for (const auto& j : jsons) out.push_back(id_of(j));
  return out;
}

std::string json_payload(const std::string& id) { return fmt::format(R"({{"id":"{}"}})", id); }

namespace {

using Kind = OutputHarness::Kind;

std::vector<std::string> lines_of(const std::filesystem::path& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

void write_lines(const std::filesystem::path& path, const std::vector<std::string>& lines) {
  std::ofstream out(path);
  for (const auto& l : lines) out << l << "\n";
}

// Rows of one embedded queue, read from its database file directly.
std::vector<std::string> queue_rows(Env& env, const std::string& queue) {
  std::vector<std::string> out;
  const auto path = env.dir() / "queue.db";
  if (!std::filesystem::exists(path)) return out;
  sqlite::Database db(path.string());
  sqlite::Statement q(db, "SELECT payload FROM messages WHERE queue = ?1 ORDER BY id");
  q.bind(1, queue, false);
  while (q.step()) out.push_back(q.column_text(0));
  return out;
}

// A blocking HTTP/1.1 POST; returns the answer's status, 0 if there was none.
int post(int port, const std::string& path, const std::string& body) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return 0;
  }
  const std::string req = fmt::format(
      "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
      "Connection: close\r\n\r\n{}",
      path, body.size(), body);
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return 0;
  }
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, static_cast<size_t>(n));
  ::close(fd);
  int status = 0;
  if (answer.rfind("HTTP/1.1 ", 0) == 0) status = std::atoi(answer.c_str() + 9);
  return status;
}

// --- inputs -----------------------------------------------------------------

class GenerateHarness final : public InputHarness {
 public:
  std::string block(Env&, const std::vector<std::string>& payloads) override {
    if (payloads.empty()) return "generate: {rate: 1/h, template: '{\"id\":\"idle\"}'}";  // one, then a long wait
    return fmt::format("generate: {{count: {}, batch_size: 7, template: '{{\"id\":\"c-{{{{seq}}}}\"}}'}}",
                       payloads.size());
  }
  bool acknowledges() const override { return false; }
};

class FileHarness final : public InputHarness {
 public:
  ~FileHarness() override {
    if (fifo_writer_ >= 0) ::close(fifo_writer_);
  }
  std::string block(Env& env, const std::vector<std::string>& payloads) override {
    const auto path = env.dir() / "in.jsonl";
    if (fifo_) return fmt::format("file: {{path: {}}}", fifo_path_.string());
    write_lines(path, payloads);
    return fmt::format("file: {{path: {}, codec: json_lines, batch_size: 7}}", path.string());
  }
  bool acknowledges() const override { return false; }
  // A FIFO with a writer that never writes: reads wait for data.
  void make_idle(Env& env) override {
    fifo_ = true;
    fifo_path_ = env.dir() / "idle.fifo";
    ::mkfifo(fifo_path_.c_str(), 0600);
    fifo_writer_ = ::open(fifo_path_.c_str(), O_RDWR | O_NONBLOCK);
  }

 private:
  bool fifo_ = false;
  std::filesystem::path fifo_path_;
  int fifo_writer_ = -1;
};

// Puts a pipe on descriptor 0 for the test, and the real stdin back after.
class StdinHarness final : public InputHarness {
 public:
  StdinHarness() {
    saved_ = ::dup(STDIN_FILENO);
    int fds[2];
    if (::pipe(fds) == 0) {
      ::dup2(fds[0], STDIN_FILENO);
      ::close(fds[0]);
      writer_ = fds[1];
    }
  }
  ~StdinHarness() override {
    if (writer_ >= 0) ::close(writer_);
    ::dup2(saved_, STDIN_FILENO);
    ::close(saved_);
  }
  std::string block(Env&, const std::vector<std::string>& payloads) override {
    if (!idle_) {
      std::string text;
      for (const auto& p : payloads) text += p + "\n";
      if (::write(writer_, text.data(), text.size()) != static_cast<ssize_t>(text.size())) text.clear();
      ::close(writer_);  // end of input after the lines
      writer_ = -1;
    }
    return "stdin: {codec: json_lines, batch_size: 7}";
  }
  bool acknowledges() const override { return false; }
  void make_idle(Env&) override { idle_ = true; }  // the writer stays open and silent

 private:
  int saved_ = -1;
  int writer_ = -1;
  bool idle_ = false;
};

class QueueInputHarness final : public InputHarness {
 public:
  std::string block(Env&, const std::vector<std::string>&) override { return "queue: {name: conformance, batch_size: 7}"; }
  void produce(Env& env, const std::vector<std::string>& payloads) override {
    auto store = connectors::shared_queue_store(env.ctx());
    core::Batch b;
    for (const auto& p : payloads) b.messages.emplace_back(p);
    produced_ = payloads.size();
    bool ok = false;
    env.run(
        [&]() -> runtime::Task<void> {
          auto r = co_await store->enqueue("conformance", b);
          ok = r.has_value();
        },
        std::chrono::seconds(5));
    if (!ok) throw std::runtime_error("enqueue into the embedded queue failed");
  }
  bool acknowledges() const override { return true; }
  std::vector<std::string> redeliverable(Env& env) override { return queue_rows(env, "conformance"); }
  std::vector<std::string> dead(Env& env) override { return queue_rows(env, "conformance.dead"); }
  size_t acknowledged(Env& env) override {
    auto depth = connectors::shared_queue_store(env.ctx())->depth("conformance");
    return produced_ - static_cast<size_t>(std::max<int64_t>(depth, 0));
  }

 private:
  size_t produced_ = 0;
};

// Each message is one POST; its answer is the source's view of the ack:
// 200 acknowledged, 503 the caller must retry (redelivery), 500 failed for
// good (the caller's dead letter).
class HttpServerHarness final : public InputHarness {
 public:
  ~HttpServerHarness() override { join(); }
  std::string block(Env&, const std::vector<std::string>&) override {
    port_ = free_port();
    return fmt::format("http_server: {{address: '127.0.0.1:{}', path: /in}}", port_);
  }
  void produce(Env&, const std::vector<std::string>& payloads) override {
    for (const auto& p : payloads)
      callers_.emplace_back([this, p] {
        const int status = post(port_, "/in", p);
        std::lock_guard lock(mu_);
        answers_[p] = status;
      });
  }
  bool acknowledges() const override { return true; }
  std::vector<std::string> redeliverable(Env&) override { return with([](int s) { return s == 503 || s == 0; }); }
  std::vector<std::string> dead(Env&) override { return with([](int s) { return s == 500; }); }
  size_t acknowledged(Env&) override {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& [p, s] : answers_) n += s == 200;
    return n;
  }

 private:
  void join() {
    for (auto& t : callers_) t.join();
    callers_.clear();
  }
  std::vector<std::string> with(const std::function<bool(int)>& pred) {
    join();
    std::vector<std::string> out;
    for (const auto& [p, s] : answers_)
      if (pred(s)) out.push_back(p);
    return out;
  }
  int port_ = 0;
  std::vector<std::thread> callers_;
  std::mutex mu_;
  std::map<std::string, int> answers_;
};

// --- outputs ----------------------------------------------------------------


class DropHarness final : public OutputHarness {
 public:
  std::string block(Env&) override { return "drop: {}"; }
  std::string payload(const std::string& id, Kind) override { return json_payload(id); }
  bool observable() const override { return false; }
};

class FileOutputHarness final : public OutputHarness {
 public:
  std::string block(Env& env) override { return fmt::format("file: {{path: {}}}", (env.dir() / "out.jsonl").string()); }
  std::string payload(const std::string& id, Kind) override { return json_payload(id); }
  std::vector<std::string> received(Env& env) override { return ids_of(lines_of(env.dir() / "out.jsonl")); }
  std::string unreachable_block(Env&) override { return "file: {path: /dev/full}"; }
};

// Puts a file (or /dev/full) on descriptor 1 while the output writes.
class StdoutHarness final : public OutputHarness {
 public:
  StdoutHarness() : saved_(::dup(STDOUT_FILENO)) {}
  ~StdoutHarness() override { restore(); }
  std::string block(Env& env) override {
    redirect((env.dir() / "stdout.jsonl").string());
    return "stdout: {}";
  }
  std::string payload(const std::string& id, Kind) override { return json_payload(id); }
  std::vector<std::string> received(Env& env) override {
    restore();
    return ids_of(lines_of(env.dir() / "stdout.jsonl"));
  }
  std::string unreachable_block(Env&) override {
    redirect("/dev/full");
    return "stdout: {}";
  }

 private:
  void redirect(const std::string& path) {
    std::fflush(stdout);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDOUT_FILENO);
    ::close(fd);
  }
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stdout);
    ::dup2(saved_, STDOUT_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  int saved_;
};

class QueueOutputHarness final : public OutputHarness {
 public:
  std::string block(Env&) override { return "queue: {name: written}"; }
  std::string payload(const std::string& id, Kind) override { return json_payload(id); }
  std::vector<std::string> received(Env& env) override { return ids_of(queue_rows(env, "written")); }
};

// An HTTP peer on the suite's io_context that answers each message by the
// kind in its payload: ok 2xx, transient 503 the first time, permanent 400.
class FakePeer {
 public:
  using Answer = std::function<net::HttpResponse(const std::string& id, Kind kind, bool first)>;
  using Parse = std::function<std::pair<std::string, Kind>(const net::HttpRequest&)>;

  FakePeer(Env& env, Parse parse, Answer answer) : parse_(std::move(parse)), answer_(std::move(answer)) {
    server_ = std::make_unique<net::HttpServer>(env.io(), net::HttpServerOptions{},
                                                [this](net::HttpRequest& r) { return handle(r); });
    server_->start();
  }
  ~FakePeer() { server_->stop(); }
  std::string address() const { return server_->address(); }
  std::vector<std::string> confirmed() {
    std::lock_guard lock(mu_);
    return confirmed_;
  }

 private:
  boost::asio::awaitable<net::HttpResponse> handle(net::HttpRequest& req) {
    auto [id, kind] = parse_(req);
    bool first;
    {
      std::lock_guard lock(mu_);
      first = ++attempts_[id] == 1;
    }
    net::HttpResponse r = answer_(id, kind, first);
    if (r.status / 100 == 2) {
      std::lock_guard lock(mu_);
      confirmed_.push_back(id);
    }
    co_return r;
  }
  Parse parse_;
  Answer answer_;
  std::unique_ptr<net::HttpServer> server_;
  std::mutex mu_;
  std::map<std::string, int> attempts_;
  std::vector<std::string> confirmed_;
};

const char* kind_text(Kind k) {
  return k == Kind::ok ? "ok" : k == Kind::transient ? "transient" : "permanent";
}
Kind kind_from(std::string_view s) {
  return s == "transient" ? Kind::transient : s == "permanent" ? Kind::permanent : Kind::ok;
}

class HttpClientHarness final : public OutputHarness {
 public:
  std::string block(Env& env) override {
    auto parse = [](const net::HttpRequest& r) {
      auto v = boost::json::parse(r.body).as_object();
      return std::pair{std::string(v.at("id").as_string()), kind_from(v.at("kind").as_string())};
    };
    auto answer = [](const std::string&, Kind kind, bool first) {
      if (kind == Kind::permanent) return net::HttpResponse::error(400, "bad request");
      if (kind == Kind::transient && first) return net::HttpResponse::error(503, "busy");
      return net::HttpResponse::json(200, "{}");
    };
    peer_ = std::make_unique<FakePeer>(env, parse, answer);
    return fmt::format("http_client: {{url: 'http://{}/events', max_connections: 4}}", peer_->address());
  }
  std::string payload(const std::string& id, Kind kind) override {
    return fmt::format(R"({{"id":"{}","kind":"{}"}})", id, kind_text(kind));
  }
  bool supports(Kind) const override { return true; }
  std::vector<std::string> received(Env&) override { return peer_->confirmed(); }
  std::string unreachable_block(Env&) override {
    return fmt::format("http_client: {{url: 'http://127.0.0.1:{}/events', request_timeout: 2s}}", free_port());
  }

 private:
  std::unique_ptr<FakePeer> peer_;
};

// Twilio's Messages API as the twilio output meets it: form bodies, 201
// with a sid, 503 to retry, 400 with a Twilio error code for good.
class TwilioHarness final : public OutputHarness {
 public:
  std::string block(Env& env) override {
    auto parse = [](const net::HttpRequest& r) {
      auto form = net::parse_form(r.body);
      std::string body;
      if (form)
        for (const auto& [k, v] : *form)
          if (k == "Body") body = v;
      const auto colon = body.find(':');
      return std::pair{body.substr(colon + 1), kind_from(body.substr(0, colon))};
    };
    auto answer = [](const std::string& id, Kind kind, bool first) {
      if (kind == Kind::permanent)
        return net::HttpResponse::json(400, R"({"code":21211,"message":"The 'To' number is not a valid phone number.","status":400})");
      if (kind == Kind::transient && first)
        return net::HttpResponse::json(503, R"({"code":20503,"message":"Service unavailable","status":503})");
      return net::HttpResponse::json(201, fmt::format(R"({{"sid":"SM{}","status":"queued","num_segments":"1"}})", id));
    };
    peer_ = std::make_unique<FakePeer>(env, parse, answer);
    return fmt::format("twilio: {{base_url: 'http://{}', account_sid: ACcccccccccccccccccccccccccccccccc, auth_token: secret, from: '+15005550006'}}",
                       peer_->address());
  }
  std::string payload(const std::string& id, Kind kind) override {
    return fmt::format(R"({{"to":"+15555550100","body":"{}:{}"}})", kind_text(kind), id);
  }
  bool supports(Kind) const override { return true; }
  std::vector<std::string> received(Env&) override { return peer_->confirmed(); }
  std::string unreachable_block(Env&) override {
    return fmt::format("twilio: {{base_url: 'http://127.0.0.1:{}', account_sid: AC11111111111111111111111111111111, auth_token: t, from: '+15005550006', "
                       "request_timeout: 2s}}",
                       free_port());
  }

 private:
  std::unique_ptr<FakePeer> peer_;
};

// Sends in the ledger, recorded two hours ago and still open: overdue. Each
// produced payload is a send's sid, which the input's message carries.
class LedgerOverdueHarness final : public InputHarness {
 public:
  std::string block(Env&, const std::vector<std::string>&) override {
    return "ledger_overdue: {final_status_timeout: 1h, batch_size: 7}";
  }
  void produce(Env& env, const std::vector<std::string>& payloads) override {
    std::vector<ledger::Send> sends;
    const int64_t two_hours_ago = core::unix_ms() - 2 * 3600 * 1000;
    for (const auto& p : payloads)
      sends.push_back({.alert_id = "al_conformance", .recipient = p, .sid = p, .at_ms = two_hours_ago});
    auto ledger = connectors::shared_ledger(env.ctx());
    core::Result<void> recorded = core::fail(core::Errc::closed, "not run");
    env.run(
        [&]() -> runtime::Task<void> {
          auto recording = ledger->record_sends(std::move(sends));  // named: see async/blocking.h
          recorded = co_await std::move(recording);
        },
        std::chrono::milliseconds(5000));
    if (!recorded) throw std::runtime_error("ledger_overdue harness: " + recorded.error().to_string());
  }
  bool acknowledges() const override { return false; }
  std::string seen_as(const std::string& payload) const override {
    const auto v = boost::json::parse(payload);
    return std::string(v.at("sid").as_string());
  }
};

// Sends in the ledger of an alert that resends 30003 at once, each ended
// undelivered with 30003: due for a resend. Each produced payload is a
// recipient, which the resend message is addressed to.
class LedgerResendHarness final : public InputHarness {
 public:
  std::string block(Env&, const std::vector<std::string>&) override {
    return "ledger_resend: {interval: 50ms, batch_size: 7}";
  }
  void produce(Env& env, const std::vector<std::string>& payloads) override {
    const int64_t now = core::unix_ms();
    const ledger::AlertInfo alert{
        .id = "al_conformance_resend", .created_ms = now, .recipients = static_cast<int64_t>(payloads.size()),
        .body = "drill", .resend = {.codes = {"30003"}, .after_ms = 0, .max_attempts = 1, .window_ms = 3'600'000}};
    std::vector<ledger::Send> sends;
    std::vector<ledger::StatusEvent> failures;
    for (const auto& p : payloads) {
      sends.push_back({.alert_id = alert.id, .recipient = p, .sid = "SM" + p, .at_ms = now});
      failures.push_back({.sid = "SM" + p, .status = "undelivered", .error_code = "30003", .at_ms = now});
    }
    auto ledger = connectors::shared_ledger(env.ctx());
    core::Result<void> recorded = core::fail(core::Errc::closed, "not run");
    env.run(
        [&]() -> runtime::Task<void> {
          auto creating = ledger->create_alert(alert);  // named: see async/blocking.h
          recorded = co_await std::move(creating);
          if (!recorded) co_return;
          auto recording = ledger->record_sends(std::move(sends));
          recorded = co_await std::move(recording);
          if (!recorded) co_return;
          auto failing = ledger->apply_statuses(std::move(failures));
          recorded = co_await std::move(failing);
        },
        std::chrono::milliseconds(5000));
    if (!recorded) throw std::runtime_error("ledger_resend harness: " + recorded.error().to_string());
  }
  bool acknowledges() const override { return false; }
  std::string seen_as(const std::string& payload) const override {
    const auto v = boost::json::parse(payload);
    if (v.at("attempt").as_int64() != 2) throw std::runtime_error("ledger_resend harness: not the second attempt");
    return std::string(v.at("to").as_string());
  }
};

// Twilio's Messages API as twilio_lookup meets it: GET .../Messages/{sid}.json
// answered 200 with the status, 503 to retry, 401 (bad credentials) for good.
class TwilioLookupHarness final : public OutputHarness {
 public:
  std::string block(Env& env) override {
    auto parse = [](const net::HttpRequest& r) {  // the sid is "<kind>.<id>"
      const auto slash = r.path.rfind('/');
      std::string sid = r.path.substr(slash + 1, r.path.size() - slash - 1 - std::string_view(".json").size());
      const auto dot = sid.find('.');
      return std::pair{sid.substr(dot + 1), kind_from(sid.substr(0, dot))};
    };
    auto answer = [](const std::string& id, Kind kind, bool first) {
      if (kind == Kind::permanent) return net::HttpResponse::json(401, R"({"code":20003,"message":"Authenticate","status":401})");
      if (kind == Kind::transient && first)
        return net::HttpResponse::json(503, R"({"code":20503,"message":"Service unavailable","status":503})");
      return net::HttpResponse::json(200, fmt::format(R"({{"sid":"{}","status":"delivered","error_code":null}})", id));
    };
    peer_ = std::make_unique<FakePeer>(env, parse, answer);
    return fmt::format("twilio_lookup: {{base_url: 'http://{}', account_sid: ACcccccccccccccccccccccccccccccccc, auth_token: secret}}",
                       peer_->address());
  }
  std::string payload(const std::string& id, Kind kind) override {
    return fmt::format(R"({{"sid":"{}.{}","give_up":false}})", kind_text(kind), id);
  }
  bool supports(Kind) const override { return true; }
  std::vector<std::string> received(Env&) override { return peer_->confirmed(); }
  std::string unreachable_block(Env&) override {
    return fmt::format("twilio_lookup: {{base_url: 'http://127.0.0.1:{}', account_sid: AC11111111111111111111111111111111, auth_token: t, request_timeout: 2s}}",
                       free_port());
  }

 private:
  std::unique_ptr<FakePeer> peer_;
};

// Sends recorded in the ledger; one without a message id fails for good.
class LedgerHarness final : public OutputHarness {
 public:
  std::string block(Env&) override {
    return "ledger: {record: sends, alert_id: al_conformance, recipient: '{{to}}', sid: '{{sid}}', status: queued}";
  }
  std::string payload(const std::string& id, Kind kind) override {
    if (kind == Kind::permanent) return fmt::format(R"({{"id":"{}","to":"+15555550100"}})", id);
    return fmt::format(R"({{"id":"{}","to":"+15555550100","sid":"{}"}})", id, id);
  }
  bool supports(Kind kind) const override { return kind != Kind::transient; }
  std::vector<std::string> received(Env& env) override {
    std::vector<std::string> out;
    sqlite::Database db((env.dir() / "ledger.db").string());
    sqlite::Statement q(db, "SELECT sid FROM ledger_messages ORDER BY sid");
    while (q.step()) out.push_back(q.column_text(0));
    return out;
  }
};

}  // namespace

std::vector<InputCase> input_cases() {
  return {
      {"generate", [] { return std::make_unique<GenerateHarness>(); }},
      {"file", [] { return std::make_unique<FileHarness>(); }},
      {"stdin", [] { return std::make_unique<StdinHarness>(); }},
      {"queue", [] { return std::make_unique<QueueInputHarness>(); }},
      {"http_server", [] { return std::make_unique<HttpServerHarness>(); }},
      {"sqs", make_sqs_harness},
      {"amqp", make_amqp_harness},
      {"redis_list", make_redis_list_harness},
      {"sidekiq", make_sidekiq_input_harness},
      {"redis_streams", make_redis_streams_harness},
      {"ledger_overdue", [] { return std::make_unique<LedgerOverdueHarness>(); }},
      {"ledger_resend", [] { return std::make_unique<LedgerResendHarness>(); }},
  };
}

std::vector<OutputCase> output_cases() {
  return {
      {"stdout", [] { return std::make_unique<StdoutHarness>(); }},
      {"file", [] { return std::make_unique<FileOutputHarness>(); }},
      {"drop", [] { return std::make_unique<DropHarness>(); }},
      {"queue", [] { return std::make_unique<QueueOutputHarness>(); }},
      {"http_client", [] { return std::make_unique<HttpClientHarness>(); }},
      {"sqs", make_sqs_output_harness},
      {"amqp", make_amqp_output_harness},
      {"elasticsearch", make_elasticsearch_harness},
      {"redis_list", make_redis_list_output_harness},
      {"redis_streams", make_redis_streams_output_harness},
      {"sidekiq", make_sidekiq_output_harness},
      {"twilio", [] { return std::make_unique<TwilioHarness>(); }},
      {"twilio_lookup", [] { return std::make_unique<TwilioLookupHarness>(); }},
      {"ledger", [] { return std::make_unique<LedgerHarness>(); }},
  };
}

}  // namespace sluice::conformance
