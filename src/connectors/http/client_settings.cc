#include "connectors/http/client_settings.h"

#include "config/config.h"
#include "net/http_client.h"
#include "runtime/build_context.h"

namespace sluice::connectors {

namespace {

std::vector<config::Field> pool_fields(const std::string& default_timeout) {
  using config::Type;
  return {{.name = "request_timeout", .type = Type::duration, .doc = "Per request.", .default_value = default_timeout,
           .min = 0.001},
          {.name = "max_connections", .type = Type::integer, .doc = "Keep-alive connections per host.",
           .default_value = "64", .min = 1},
          {.name = "verify_tls", .type = Type::boolean, .doc = "Verify the server's certificate and name.",
           .default_value = "true"},
          {.name = "ca_file", .doc = "CA bundle to trust instead of the system's."}};
}

net::HttpClientOptions options_of(const config::Values& v) {
  net::HttpClientOptions o;
  o.request_timeout = v.duration("request_timeout");
  o.max_connections_per_host = static_cast<size_t>(v.integer("max_connections"));
  o.verify_tls = v.boolean("verify_tls");
  if (v.has("ca_file")) o.ca_file = v.str("ca_file");
  return o;
}

// The `http` resource: the client, shared by whoever names it.
struct HttpResource final : runtime::Resource {
  std::shared_ptr<net::HttpTransport> client;
};

}  // namespace

std::vector<config::Field> http_client_fields(const std::string& default_timeout) {
  auto fields = pool_fields(default_timeout);
  fields.push_back({.name = "client",
                    .doc = "Name of an `http` resource whose client (connection pool, timeouts, TLS settings) this "
                           "component shares instead of its own; the settings above are then the resource's.",
                    .names_resource = "http"});
  return fields;
}

std::vector<config::Field> with_http_client_fields(std::vector<config::Field> own, const std::string& default_timeout) {
  for (auto& f : http_client_fields(default_timeout)) own.push_back(std::move(f));
  return own;
}

std::shared_ptr<net::HttpTransport> http_client_for(const config::Values& v, runtime::BuildContext& ctx) {
  if (v.has("client")) return ctx.resource<HttpResource>("http", v.str("client"))->client;
  return ctx.http_client(options_of(v));
}

config::ComponentSpec http_resource_spec() {
  return {
      .name = "http",
      .kind = config::Kind::resource,
      .summary = "One pooled HTTP client (keep-alive connections per host, TLS verification) shared by every "
                 "component that names it with `client: <name>`, e.g. several twilio outputs that together must "
                 "stay within the provider's connection limit.",
      .fields = pool_fields("30s"),
      .example = "resources:\n  http:\n    twilio_pool: {max_connections: 32, request_timeout: 15s}",
      .make_resource = [](const config::Values& v, runtime::BuildContext& ctx) -> std::shared_ptr<runtime::Resource> {
        auto r = std::make_shared<HttpResource>();
        r->client = ctx.http_client(options_of(v));
        return r;
      },
  };
}

}  // namespace sluice::connectors
