#include "runtime/component.h"

namespace sluice::runtime {

BuildContext::BuildContext(boost::asio::io_context& io, const config::Config& config, metrics::Registry& metrics,
                           std::function<ratelimit::RateLimit*(const std::string&)> rate_limits)
    : io_(io), config_(config), metrics_(metrics), rate_limits_(std::move(rate_limits)) {}

}  // namespace sluice::runtime
