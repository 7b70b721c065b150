#include "runtime/build_context.h"

#include "config/config.h"
#include "net/http_client.h"

namespace sluice::runtime {

BuildContext::BuildContext(boost::asio::io_context& io, const config::Config& config, metrics::Registry& metrics,
                           std::function<ratelimit::RateLimit*(const std::string&)> rate_limits,
                           const core::Clock& clock)
    : io_(io), config_(config), metrics_(metrics), rate_limits_(std::move(rate_limits)), clock_(clock) {}

std::shared_ptr<net::HttpTransport> BuildContext::http_client(const net::HttpClientOptions& options) {
  if (http_factory_) return http_factory_(options);
  return std::make_shared<net::HttpClient>(io_, options);
}

std::shared_ptr<Resource> BuildContext::resource(const std::string& kind, const std::string& name) {
  const config::ResourceConfig* rc = config_.resource(kind, name);
  if (!rc) throw std::runtime_error("no resource " + kind + " '" + name + "' in resources");
  return shared<Resource>("resource:" + kind + ":" + name,
                          [rc, this] { return rc->spec->make_resource(rc->values, *this); });
}

}  // namespace sluice::runtime
