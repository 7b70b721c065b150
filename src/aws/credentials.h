#pragma once
// Where AWS credentials come from, in the order the AWS SDKs look:
//   1. the component's config (access_key_id, secret_access_key, session_token);
//   2. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
//   3. the shared files: AWS_SHARED_CREDENTIALS_FILE (default
//      ~/.aws/credentials) section [<profile>], then AWS_CONFIG_FILE (default
//      ~/.aws/config) section [profile <profile>] ([default] for default);
//      the profile is the config's, else AWS_PROFILE, else "default".
// Not yet: the ECS container endpoint, EKS web identity and EC2 IMDSv2
// (issue 10), which need refreshing before expiry.
//
// Secrets never appear in errors or logs: only where they were looked for.

#include <functional>
#include <optional>
#include <string>

#include "aws/sigv4.h"
#include "core/error.h"

namespace sluice::aws {

struct CredentialSource {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string profile;
};

// The environment, as a lookup (tests pass their own).
using Getenv = std::function<std::optional<std::string>(const std::string&)>;
Getenv process_environment();

struct Resolved {
  Credentials credentials;
  std::string from;  // "config", "environment", "/root/.aws/credentials [default]", ...
};

// Errc::invalid_payload: nothing found (the message lists where it looked),
// or a half-given pair (a key id without its secret).
core::Result<Resolved> resolve_credentials(const CredentialSource& configured, const Getenv& env);

}  // namespace sluice::aws
