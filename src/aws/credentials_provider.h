#pragma once
// The credentials a client signs with, looked up in the order the AWS SDKs
// use (botocore's):
//   1. the component's config; 2. the environment; 3. EKS web identity
//   (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN); 4. the shared files for
//   the profile; 5. the ECS container endpoint
//   (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI); 6. EC2 IMDSv2,
//   unless AWS_EC2_METADATA_DISABLED=true.
// 1, 2 and 4 are read once, when the pipeline is built (credentials.h); 3, 5
// and 6 are fetched at the first call and fetched again before they expire
// (remote_credentials.h). Not supported: credential_process, SSO and
// role_arn/source_profile in the shared files.
//
// Threads: get() from any coroutine; a refresh that fails while the old
// credentials still hold keeps them (and says so in the log).

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "aws/credentials.h"
#include "aws/remote_credentials.h"

namespace sluice::aws {

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // The credentials to sign with now. Errc::unavailable when none can be had.
  virtual boost::asio::awaitable<core::Result<std::shared_ptr<const Credentials>>> get() = 0;
  // Where they come from: "config", "environment", "/root/.aws/credentials
  // [default]", "EC2 instance metadata (IMDSv2)", ...
  virtual const std::string& from() const = 0;
};

// Credentials read once (config, environment, shared files).
std::shared_ptr<CredentialsProvider> fixed_credentials(Resolved resolved);

// Temporary credentials, fetched at the first get() and again once they
// are near their expiry: with 10 minutes left, or half their lifetime when
// that is shorter.
class RefreshingCredentials final : public CredentialsProvider {
 public:
  using Now = std::function<std::chrono::system_clock::time_point()>;
  RefreshingCredentials(std::string from, Fetch fetch, std::shared_ptr<net::HttpTransport> http,
                        Now now = std::chrono::system_clock::now);
  boost::asio::awaitable<core::Result<std::shared_ptr<const Credentials>>> get() override;
  const std::string& from() const override { return from_; }
  // Fetches made so far, for tests and debug logs.
  size_t fetches() const;

 private:
  std::string from_;
  Fetch fetch_;
  std::shared_ptr<net::HttpTransport> http_;
  Now now_;
  mutable std::mutex mu_;
  std::shared_ptr<const Credentials> current_;
  std::chrono::system_clock::time_point expires_{}, refresh_at_{};
  size_t fetches_ = 0;
  bool fetching_ = false;  // a fetch is in flight: the others do not start one
};

// The chain above. `region` names the regional STS endpoint for web
// identity. Errc::invalid_payload: nothing found, with where it looked (only
// when IMDS is disabled: otherwise IMDS is the last resort, and its failure
// is reported by get()).
core::Result<std::shared_ptr<CredentialsProvider>> credentials_chain(const CredentialSource& configured,
                                                                     const Getenv& env,
                                                                     std::shared_ptr<net::HttpTransport> http,
                                                                     const std::string& region);

}  // namespace sluice::aws
