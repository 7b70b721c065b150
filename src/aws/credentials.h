#pragma once
// The AWS credentials read once, when the pipeline is built:
//   - the component's config (access_key_id, secret_access_key, session_token);
//   - the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
//   - the shared files: AWS_SHARED_CREDENTIALS_FILE (default
//     ~/.aws/credentials) section [<profile>], then AWS_CONFIG_FILE (default
//     ~/.aws/config) section [profile <profile>] ([default] for default);
//     the profile is the config's, else AWS_PROFILE, else "default".
// credentials_provider.h puts them in the SDKs' chain with the temporary
// credentials fetched over HTTP (web identity, ECS, IMDS).
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

// Each step: nothing when it gives no key; Errc::invalid_payload for a
// half-given pair (a key id without its secret).
core::Result<std::optional<Resolved>> from_config_or_environment(const CredentialSource& configured,
                                                                 const Getenv& env);
// `looked` is set to the files and sections it read.
core::Result<std::optional<Resolved>> from_shared_files(const CredentialSource& configured, const Getenv& env,
                                                        std::string& looked);
// "no AWS credentials: not in the config ..., not in <looked>".
std::string nothing_found(const std::string& looked_in_files);

// The three in order. Errc::invalid_payload: nothing found (the message
// lists where it looked), or a half-given pair.
core::Result<Resolved> resolve_credentials(const CredentialSource& configured, const Getenv& env);

}  // namespace sluice::aws
