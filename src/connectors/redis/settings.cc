#include "connectors/redis/settings.h"

#include <fmt/format.h>

#include <fstream>

#include "config/config.h"
#include "connectors/redis/redis.h"
#include "redis/client.h"
#include "runtime/build_context.h"

namespace sluice::connectors {
namespace {

std::vector<config::Field> client_fields() {
  using config::Type;
  return {{.name = "url",
           .doc = "redis://[user[:password]@]host[:port][/db], rediss://... for TLS, or "
                  "redis+sentinel://[user[:password]@]sentinel[:port][,sentinel...]/<primary name>[/db]; the "
                  "password may come from ${ENV}.",
           .secret = false},
          {.name = "connect_timeout", .type = Type::duration, .doc = "Connecting and AUTH.", .default_value = "5s",
           .min = 0.001},
          {.name = "command_timeout", .type = Type::duration,
           .doc = "An answer's longest wait (beyond a blocking command's own).", .default_value = "5s", .min = 0.001},
          {.name = "max_connections", .type = Type::integer, .doc = "Connections open at once.",
           .default_value = "16", .min = 1, .max = 1024},
          {.name = "tls_verify", .type = Type::boolean,
           .doc = "rediss://: verify the server's certificate and host name.", .default_value = "true"},
          {.name = "tls_ca_file", .doc = "rediss://: a PEM file of CAs to trust instead of the system's."}};
}

std::shared_ptr<redis::Client> make_client(const config::Values& v, runtime::BuildContext& ctx) {
  redis::ClientOptions o;
  o.url = v.str("url");
  o.connect_timeout = v.duration("connect_timeout");
  o.command_timeout = v.duration("command_timeout");
  o.max_connections = static_cast<size_t>(v.integer("max_connections"));
  o.tls_verify = v.boolean("tls_verify");
  if (v.has("tls_ca_file")) o.tls_ca_file = v.str("tls_ca_file");
  return std::make_shared<redis::Client>(ctx.io(), std::move(o));
}

struct RedisResource final : runtime::Resource {
  std::shared_ptr<redis::Client> client;
};

void check_url(const config::Values& v) {
  if (v.has("tls_ca_file") && !std::ifstream(v.str("tls_ca_file")))
    throw v.error("tls_ca_file", fmt::format("cannot read tls_ca_file {}", v.str("tls_ca_file")));
  if (!v.has("url")) return;
  if (auto e = redis::parse_url(v.str("url")); !e) throw v.error("url", e.error().detail);
}

}  // namespace

namespace redis_settings {

std::vector<config::Field> with_connection_fields(std::vector<config::Field> own) {
  auto fields = client_fields();
  fields.push_back({.name = "client",
                    .doc = "Name of a `redis` resource whose client (and connections) this component shares instead "
                           "of its own url.",
                    .names_resource = "redis"});
  for (auto& f : own) fields.push_back(std::move(f));
  return fields;
}

void validate_connection(const config::Values& v) {
  if (v.has("url") == v.has("client")) throw v.error("url", "give the Redis `url`, or `client` naming a redis resource");
  check_url(v);
}

std::shared_ptr<redis::Client> client_for(const config::Values& v, runtime::BuildContext& ctx) {
  if (v.has("client")) return ctx.resource<RedisResource>("redis", v.str("client"))->client;
  return make_client(v, ctx);
}

runtime::WriteOutcome refused(const std::string& error_text, std::string why) {
  if (error_text.starts_with("WRONGTYPE")) return runtime::WriteOutcome::reject(std::move(why));
  if (error_text.starts_with("OOM")) return runtime::WriteOutcome::overload(std::move(why));
  return runtime::WriteOutcome::retry(std::move(why));
}

runtime::WriteOutcome unanswered(const core::Error& e) {
  return e.is(core::Errc::timeout) ? runtime::WriteOutcome::overload(e.to_string())
                                   : runtime::WriteOutcome::retry(e.to_string());
}

}  // namespace redis_settings

config::ComponentSpec redis_resource_spec() {
  auto fields = client_fields();
  fields[0].required = true;
  return {
      .name = "redis",
      .kind = config::Kind::resource,
      .summary = "One Redis client (a pool of connections) shared by every component that names it with "
                 "`client: <name>`.",
      .fields = fields,
      .example = "resources:\n  redis:\n    main: {url: \"redis://:${REDIS_PASSWORD}@cache:6379/0\"}",
      .validate = check_url,
      .make_resource = [](const config::Values& v, runtime::BuildContext& ctx) -> std::shared_ptr<runtime::Resource> {
        auto r = std::make_shared<RedisResource>();
        r->client = make_client(v, ctx);
        return r;
      },
  };
}

}  // namespace sluice::connectors
