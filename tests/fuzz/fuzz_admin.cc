// libFuzzer target for the admin API as a client meets it: the input is the
// raw bytes of one TCP connection to a real engine (alert API, embedded
// queue, ledger, a pipeline draining the alert queue) started once in this
// process. Everything a request passes is exercised: HTTP parsing and
// refusals, the origin guard, routing, auth, alert creation from JSON and
// CSV, reports and recipient pages. Promises beside "no crash": the server
// answers in HTTP or just closes, never answers 500 (the storage is
// healthy, so a 500 is our bug), and closes once the client has sent
// everything (no request waits forever), and every answer is valid UTF-8.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "alerts/api.h"
#include "components/component_list.h"
#include "config/config.h"
#include "fuzz_check.h"
#include "logging/log.h"
#include "runtime/engine.h"

namespace {

using sluice::fuzz::broken;
using sluice::fuzz::check;

// One engine with its own data directory. Alerts pile up as inputs create
// them, and GET /api/alerts reports every one, so the harness starts a fresh
// engine every kInputsPerEngine inputs to keep each input's work bounded.
class FuzzEngine {
 public:
  FuzzEngine() {
    char dir[] = "/tmp/sluice-fuzz-admin-XXXXXX";
    check(mkdtemp(dir) != nullptr, "a temporary data directory can be made");
    dir_ = dir;
    const std::string yaml = "data_dir: " + dir_ + R"(
admin: {address: "127.0.0.1:0"}
threads: 2
alerts: {queue: alert_outbound, from: "+15005550006", max_recipients: 50}
pipelines:
  send:
    input: {queue: {name: alert_outbound}}
    output: {drop: {}}
)";
    const auto& registry = sluice::components::component_list();
    auto loaded = sluice::config::load_string(yaml, "fuzz_admin.yaml", registry);
    check(loaded.has_value(), "the fuzz engine's config loads", loaded ? "" : loaded.error().to_string());
    config_ = std::move(*loaded);  // the engine keeps references into it
    engine_ = std::make_unique<sluice::runtime::Engine>(config_, registry, sluice::alerts::install_alert_api);
    thread_ = std::thread([this] { engine_->run(); });
    const std::string address = engine_->admin_address();
    address_.sin_family = AF_INET;
    address_.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
    address_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  ~FuzzEngine() {
    engine_->request_stop();
    thread_.join();
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }
  const sockaddr_in& address() const { return address_; }

 private:
  std::string dir_;
  sluice::config::Config config_;
  std::unique_ptr<sluice::runtime::Engine> engine_;
  std::thread thread_;
  sockaddr_in address_{};
};

constexpr int kInputsPerEngine = 2000;

// libFuzzer's -timeout watchdog is a SIGALRM every few seconds, so any of
// these calls may return EINTR; each is retried, and waits keep their
// deadline (a poll cut short once looked like a server that never closed).
int connect_to(const sockaddr_in& server) {
  // Each connection from its own loopback address: hundreds a second, each
  // in TIME_WAIT for a minute, would otherwise use up the ephemeral ports of
  // one address (connect() fails with EADDRNOTAVAIL).
  static uint32_t next_source = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    check(fd >= 0, "a socket can be opened");
    sockaddr_in source{};
    source.sin_family = AF_INET;
    source.sin_addr.s_addr = htonl(0x7F010000u | (next_source++ % 0xFFFEu + 1));  // 127.1.0.1 - 127.1.255.254
    check(bind(fd, reinterpret_cast<const sockaddr*>(&source), sizeof source) == 0, "a loopback address can be bound");
    int rc = connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof server);
    if (rc != 0 && errno == EINTR) {  // the handshake goes on: wait for it
      pollfd p{fd, POLLOUT, 0};
      while ((rc = poll(&p, 1, 10'000)) < 0 && errno == EINTR) {
      }
      int error = 0;
      socklen_t len = sizeof error;
      if (rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0) errno = error;
      rc = rc == 1 && error == 0 ? 0 : -1;
    }
    if (rc == 0) return fd;
    const int why = errno;
    close(fd);
    // Refused only until the engine's run() starts the listener.
    if (std::chrono::steady_clock::now() > give_up) broken("the admin API can be connected to", std::strerror(why));
    std::this_thread::yield();
  }
}

// Sends `request`, half-closes, and returns all the server sent until it
// closed, or nullopt when it had not closed `wait` after the last byte sent.
std::optional<std::string> exchange(const sockaddr_in& server, std::string_view request,
                                    std::chrono::milliseconds wait = std::chrono::seconds(10)) {
  const int fd = connect_to(server);
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the server may answer and close before reading it all
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  std::optional<std::string> response(std::in_place);
  char buf[16 << 10];
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    const int ready = left.count() > 0 ? poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready != 1) {
      response.reset();
      break;
    }
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    response->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return response;
}

// A connection left open: says whether the server still answers a new
// one (a stalled accept loop or a stuck handler), for the failure report.
std::string hang_report(const sockaddr_in& server, std::string_view request) {
  std::string report;
  for (const char* path : {"/metrics", "/api/alerts"}) {
    const std::string get = std::string("GET ") + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    const auto probe = exchange(server, get, std::chrono::seconds(5));
    report += fmt::format("a new connection's GET {} got: {}\n  ", path,
                          !probe ? "no answer within 5 s" : probe->substr(0, probe->find('\r')));
  }
  return report + "the request: " + std::string(request.substr(0, 200));
}

}  // namespace

// Once, before any engine: logging is process-wide, and threads may outlive an engine.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  sluice::logging::setup("off", "text");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<FuzzEngine> engine;
  static int inputs = 0;
  if (inputs++ % kInputsPerEngine == 0) {
    engine.reset();
    engine = std::make_unique<FuzzEngine>();
  }
  const std::string_view request(reinterpret_cast<const char*>(data), size);
  const auto answered = exchange(engine->address(), request);
  if (!answered) broken("the server closes within 10 s of the client's last byte", hang_report(engine->address(), request));
  const std::string& response = *answered;
  if (response.empty()) return 0;
  // HTTP/1.1, or 1.0 to a 1.0 request.
  check((response.starts_with("HTTP/1.1 ") || response.starts_with("HTTP/1.0 ")) && response.size() >= 12,
        "the server answers in HTTP", response.substr(0, 80));
  check(sluice::fuzz::valid_utf8(response), "every answer is valid UTF-8 (echoes of hostile bytes are escaped)",
        response.substr(0, 300));
  check(response.substr(9, 3) != "500", "no request makes the admin API fail with 500", response.substr(0, 300));
  return 0;
}
