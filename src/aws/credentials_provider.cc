#include "aws/credentials_provider.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "logging/log.h"
#include "net/http_client.h"

namespace sluice::aws {
namespace {

using Clock = std::chrono::system_clock;

class FixedCredentials final : public CredentialsProvider {
 public:
  explicit FixedCredentials(Resolved r)
      : credentials_(std::make_shared<const Credentials>(std::move(r.credentials))), from_(std::move(r.from)) {}
  boost::asio::awaitable<core::Result<std::shared_ptr<const Credentials>>> get() override { co_return credentials_; }
  const std::string& from() const override { return from_; }

 private:
  std::shared_ptr<const Credentials> credentials_;
  std::string from_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

std::shared_ptr<CredentialsProvider> fixed_credentials(Resolved resolved) {
  return std::make_shared<FixedCredentials>(std::move(resolved));
}

RefreshingCredentials::RefreshingCredentials(std::string from, Fetch fetch, std::shared_ptr<net::HttpTransport> http,
                                             Now now)
    : from_(std::move(from)), fetch_(std::move(fetch)), http_(std::move(http)), now_(std::move(now)) {}

size_t RefreshingCredentials::fetches() const {
  std::lock_guard lock(mu_);
  return fetches_;
}

boost::asio::awaitable<core::Result<std::shared_ptr<const Credentials>>> RefreshingCredentials::get() {
  std::shared_ptr<const Credentials> held;
  Clock::time_point expires;
  // One fetch at a time: sixteen receivers reaching the refresh point
  // together must not ask the metadata service sixteen times (IMDS
  // throttles). While one refreshes, the others keep the current key if it
  // still holds, and otherwise wait for the fetch to finish.
  for (;;) {
    {
      std::lock_guard lock(mu_);
      const auto now = now_();
      if (current_ && now < refresh_at_) co_return current_;
      if (!fetching_) {
        fetching_ = true;
        held = current_;
        expires = expires_;
        ++fetches_;
        break;
      }
      if (current_ && now < expires_) co_return current_;
    }
    boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor, std::chrono::milliseconds(10));
    co_await pause.async_wait(boost::asio::use_awaitable);
  }
  struct FetchDone {
    RefreshingCredentials* self;
    ~FetchDone() {
      std::lock_guard lock(self->mu_);
      self->fetching_ = false;
    }
  } done{this};
  auto fetched = co_await fetch_(*http_);
  const auto now = now_();
  if (!fetched) {
    if (held && now < expires) {
      logging::limited(logging::Level::warn, "aws credentials refresh",
                       fmt::format("cannot refresh the AWS credentials from {} ({}); the current ones hold for {} s",
                                   from_, fetched.error().to_string(),
                                   std::chrono::duration_cast<std::chrono::seconds>(expires - now).count()));
      co_return held;
    }
    co_return core::fail(core::Errc::unavailable,
                         fmt::format("no AWS credentials from {}: {}", from_, fetched.error().to_string()));
  }
  auto fresh = std::make_shared<const Credentials>(std::move(fetched->credentials));
  std::lock_guard lock(mu_);
  current_ = fresh;
  expires_ = fetched->expires;
  if (expires_ == Clock::time_point::max()) {
    refresh_at_ = Clock::time_point::max();
  } else {
    const auto left = expires_ - now;
    refresh_at_ = expires_ - std::min<Clock::duration>(std::chrono::minutes(10), left / 2);
  }
  logging::debug("aws credentials from {} fetched; they expire in {} s", from_,
                 expires_ == Clock::time_point::max()
                     ? -1
                     : std::chrono::duration_cast<std::chrono::seconds>(expires_ - now).count());
  co_return fresh;
}

core::Result<std::shared_ptr<CredentialsProvider>> credentials_chain(const CredentialSource& configured,
                                                                     const Getenv& env,
                                                                     std::shared_ptr<net::HttpTransport> http,
                                                                     const std::string& region) {
  auto get = [&env](const char* name) { return env(name).value_or(""); };
  auto first = from_config_or_environment(configured, env);
  if (!first) return std::unexpected(first.error());
  if (*first) return fixed_credentials(std::move(**first));

  const std::string token_file = get("AWS_WEB_IDENTITY_TOKEN_FILE"), role = get("AWS_ROLE_ARN");
  if (!token_file.empty() && !role.empty()) {
    std::string sts = get("AWS_ENDPOINT_URL_STS");
    if (sts.empty()) sts = get("AWS_ENDPOINT_URL");
    if (sts.empty()) sts = fmt::format("https://sts.{}.amazonaws.com", region);
    std::string session = get("AWS_ROLE_SESSION_NAME");
    if (session.empty()) session = "sluice";
    return std::make_shared<RefreshingCredentials>(
        fmt::format("web identity ({} as {}, STS {})", token_file, role, sts),
        web_identity_fetch(sts, role, session, token_file), std::move(http));
  }

  std::string looked;
  auto files = from_shared_files(configured, env, looked);
  if (!files) return std::unexpected(files.error());
  if (*files) return fixed_credentials(std::move(**files));

  const std::string relative = get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), full = get("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if (!relative.empty() || !full.empty()) {
    const std::string url = !relative.empty() ? "http://169.254.170.2" + relative : full;
    std::string authorization = get("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (const std::string file = get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); !file.empty())
      authorization = read_file(file);
    return std::make_shared<RefreshingCredentials>("the container credentials endpoint " + url,
                                                   container_fetch(url, authorization), std::move(http));
  }

  std::string disabled = get("AWS_EC2_METADATA_DISABLED");
  for (auto& c : disabled) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (disabled == "true")
    return core::fail(core::Errc::invalid_payload,
                      nothing_found(looked) + ", no web identity (AWS_WEB_IDENTITY_TOKEN_FILE), no container "
                                              "endpoint (AWS_CONTAINER_CREDENTIALS_*), and EC2 instance metadata "
                                              "is disabled (AWS_EC2_METADATA_DISABLED)");
  std::string imds = get("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (imds.empty()) imds = "http://169.254.169.254";
  return std::make_shared<RefreshingCredentials>(
      fmt::format("EC2 instance metadata (IMDSv2 at {}; the last resort: {})", imds, nothing_found(looked)),
      imds_fetch(imds), std::move(http));
}

}  // namespace sluice::aws
