#pragma once
// Temporary credentials fetched over HTTP, each with its expiry:
//   - the ECS container endpoint: GET http://169.254.170.2<AWS_CONTAINER_CREDENTIALS_RELATIVE_URI>,
//     or GET <AWS_CONTAINER_CREDENTIALS_FULL_URI> with the Authorization
//     header from AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE) (EKS Pod Identity
//     uses this too);
//   - EKS web identity (IRSA): STS AssumeRoleWithWebIdentity with the token
//     in AWS_WEB_IDENTITY_TOKEN_FILE (read again each time: the kubelet
//     rotates it) for AWS_ROLE_ARN;
//   - EC2 IMDSv2: a session token (PUT /latest/api/token), then the role
//     (GET /latest/meta-data/iam/security-credentials/) and its credentials.
//
// Errors are Errc::unavailable (the service did not answer, or answered
// with an error: try again later) or Errc::invalid_payload (an answer that
// is not what the service sends); messages never contain a secret.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "aws/sigv4.h"
#include "core/error.h"

namespace sluice::net {
class HttpTransport;
}

namespace sluice::aws {

struct Expiring {
  Credentials credentials;
  std::chrono::system_clock::time_point expires = std::chrono::system_clock::time_point::max();
};

// One fetch of temporary credentials.
using Fetch = std::function<boost::asio::awaitable<core::Result<Expiring>>(net::HttpTransport&)>;

// `url`: the full endpoint; `authorization`: the header's value, or empty.
Fetch container_fetch(std::string url, std::string authorization);
// `endpoint`: http://169.254.169.254, or AWS_EC2_METADATA_SERVICE_ENDPOINT.
Fetch imds_fetch(std::string endpoint);
// `sts_endpoint`: https://sts.<region>.amazonaws.com, or AWS_ENDPOINT_URL_STS.
Fetch web_identity_fetch(std::string sts_endpoint, std::string role_arn, std::string session_name,
                         std::string token_file);

// The answers' parsers, for tests.
// {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"} (container and
// IMDS; IMDS adds "Code": "Success").
core::Result<Expiring> parse_credentials_json(std::string_view body, const std::string& from);
// AssumeRoleWithWebIdentityResponse/.../Credentials, in XML.
core::Result<Expiring> parse_sts_credentials(std::string_view body);

}  // namespace sluice::aws
