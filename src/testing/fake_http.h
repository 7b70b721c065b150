#pragma once
// Test helper: an HttpTransport that answers from a script and records
// every request, so outputs are unit-tested without a network. Install it
// with BuildContext::set_http_client_factory.

#include <deque>
#include <mutex>
#include <vector>

#include "net/http_client.h"

namespace sluice::testing {

class ScriptedHttp final : public net::HttpTransport {
 public:
  // The next request gets this answer (or error); with nothing scripted, 200 {}.
  void answer(int status, std::string body, net::Headers headers = {}) {
    std::lock_guard lock(mu_);
    script_.push_back(net::ClientResponse{status, std::move(headers), std::move(body)});
  }
  void fail(core::Errc code, std::string why) {
    std::lock_guard lock(mu_);
    script_.push_back(core::fail(code, std::move(why)));
  }
  std::vector<net::ClientRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

  boost::asio::awaitable<core::Result<net::ClientResponse>> request(net::ClientRequest req) override {
    std::lock_guard lock(mu_);
    requests_.push_back(std::move(req));
    if (script_.empty()) co_return net::ClientResponse{200, {}, "{}"};
    auto next = std::move(script_.front());
    script_.pop_front();
    co_return next;
  }

 private:
  mutable std::mutex mu_;
  std::deque<core::Result<net::ClientResponse>> script_;
  std::vector<net::ClientRequest> requests_;
};

}  // namespace sluice::testing
