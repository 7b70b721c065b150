#pragma once
// What the sqs input and output share: where the queue is (url, endpoint,
// region), who signs (credentials, aws/credentials.h), and the HTTP client.

#include <memory>
#include <string>
#include <vector>

#include "config/spec.h"

namespace sluice::connectors::sqs {

class Client;

// url, endpoint, region, credentials {...}, and the HTTP client's settings.
std::vector<config::Field> with_connection_fields(std::vector<config::Field> own);
// The spec's validate hook: what make_client would refuse in the config (a
// bad URL, no region), so `sluice lint` says it too. Credentials are looked
// up by make_client only: lint may run where they are not.
void validate_connection(const config::Values& v);
// A client for the queue `v` names, counting its calls in
// sluice_sqs_requests_total{action} and sluice_sqs_requests_billed_total.
std::shared_ptr<Client> make_client(const config::Values& v, runtime::BuildContext& ctx);

}  // namespace sluice::connectors::sqs
