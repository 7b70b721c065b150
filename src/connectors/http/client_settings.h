#pragma once
// The HTTP client settings every HTTP-speaking component takes (http_client,
// twilio, and the brokers' HTTP APIs to come), the `http` resource that
// shares one client among them, and the one call that picks between a
// component's own client and the resource it names (`client: <name>`).

#include <memory>
#include <string>
#include <vector>

#include "config/spec.h"

namespace sluice::net {
class HttpTransport;
struct HttpClientOptions;
}  // namespace sluice::net
namespace sluice::runtime {
class BuildContext;
}

namespace sluice::connectors {

// request_timeout (default `default_timeout`), max_connections, verify_tls,
// ca_file, and `client` naming an `http` resource.
std::vector<config::Field> http_client_fields(const std::string& default_timeout);
// `own` followed by http_client_fields(default_timeout), for a spec's fields.
std::vector<config::Field> with_http_client_fields(std::vector<config::Field> own, const std::string& default_timeout);
// The shared client of the `http` resource `v` names in `client`, or a
// client of the component's own built from the settings above.
std::shared_ptr<net::HttpTransport> http_client_for(const config::Values& v, runtime::BuildContext& ctx);

// `resources: {http: {<name>: {...}}}`: one pooled client.
config::ComponentSpec http_resource_spec();

}  // namespace sluice::connectors
