#include "runtime/component.h"

#include "net/http_client.h"

namespace sluice::runtime {

BuildContext::BuildContext(boost::asio::io_context& io, const config::Config& config, metrics::Registry& metrics,
                           std::function<ratelimit::RateLimit*(const std::string&)> rate_limits)
    : io_(io), config_(config), metrics_(metrics), rate_limits_(std::move(rate_limits)) {}

std::shared_ptr<net::HttpTransport> BuildContext::http_client(const net::HttpClientOptions& options) {
  if (http_factory_) return http_factory_(options);
  return std::make_shared<net::HttpClient>(io_, options);
}

}  // namespace sluice::runtime
