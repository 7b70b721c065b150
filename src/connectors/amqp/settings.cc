#include "connectors/amqp/settings.h"

#include <fmt/format.h>

#include <fstream>

#include "config/config.h"
#include "runtime/sleep.h"

namespace sluice::connectors::amqp_settings {

std::vector<config::Field> with_connection_fields(std::vector<config::Field> own) {
  using config::Type;
  std::vector<config::Field> fields = {
      {.name = "url",
       .doc = "amqp://[user[:password]@]host[:port][/vhost] (vhost percent-encoded: %2F is \"/\"; default "
              "guest:guest and /), or amqps:// for TLS; the password may come from ${ENV}.",
       .required = true},
      {.name = "heartbeat", .type = Type::duration,
       .doc = "Heartbeat interval asked of the broker (the lower of the two wins; 0s: none). Two missed ones end "
              "the connection, and it is made again.",
       .default_value = "30s", .min = 0, .max = 65535},
      {.name = "connect_timeout", .type = Type::duration, .doc = "Connecting, logging in and opening the vhost.",
       .default_value = "10s", .min = 0.001},
      {.name = "tls_verify", .type = Type::boolean, .doc = "amqps://: verify the broker's certificate and host name.",
       .default_value = "true"},
      {.name = "tls_ca_file", .doc = "amqps://: a PEM file of CAs to trust instead of the system's."}};
  for (auto& f : own) fields.push_back(std::move(f));
  return fields;
}

void validate_connection(const config::Values& v) {
  if (auto e = amqp::parse_url(v.str("url")); !e) throw v.error("url", e.error().detail);
  if (v.has("tls_ca_file") && !std::ifstream(v.str("tls_ca_file")))
    throw v.error("tls_ca_file", fmt::format("cannot read tls_ca_file {}", v.str("tls_ca_file")));
}

amqp::ConnectOptions connect_options(const config::Values& v, const std::string& name) {
  amqp::ConnectOptions o;
  o.url = v.str("url");
  o.heartbeat = std::chrono::duration_cast<std::chrono::seconds>(v.duration("heartbeat"));
  o.connect_timeout = v.duration("connect_timeout");
  o.tls_verify = v.boolean("tls_verify");
  if (v.has("tls_ca_file")) o.tls_ca_file = v.str("tls_ca_file");
  o.name = name;
  return o;
}

runtime::Task<void> pause(const core::Clock& clock, core::Nanos d, const std::function<bool()>& stop) {
  const core::Nanos slice = std::chrono::milliseconds(100);
  for (core::Nanos waited{0}; waited < d && !stop(); waited += slice) co_await runtime::sleep_for(clock, std::min(slice, d - waited));
}

}  // namespace sluice::connectors::amqp_settings
