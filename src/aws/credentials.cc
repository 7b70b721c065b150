#include "aws/credentials.h"

#include <cstdlib>
#include <fstream>
#include <map>

#include <fmt/format.h>

namespace sluice::aws {

namespace {

std::string trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

// The `key = value` lines of section [name] of an INI file; nullopt when
// the file cannot be read or has no such section.
std::optional<std::map<std::string, std::string>> ini_section(const std::string& path, const std::string& name) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::optional<std::map<std::string, std::string>> found;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    const std::string t = trimmed(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[' && t.back() == ']') {
      inside = trimmed(std::string_view(t).substr(1, t.size() - 2)) == name;
      if (inside && !found) found.emplace();
      continue;
    }
    const size_t eq = t.find('=');
    if (inside && eq != std::string::npos) (*found)[trimmed(std::string_view(t).substr(0, eq))] = trimmed(std::string_view(t).substr(eq + 1));
  }
  return found;
}

core::Result<std::optional<Credentials>> pair_of(const std::string& id, const std::string& secret,
                                                 const std::string& token, const std::string& where) {
  if (id.empty() && secret.empty()) return std::optional<Credentials>();
  if (id.empty() || secret.empty())
    return core::fail(core::Errc::invalid_payload,
                      fmt::format("{} gives {} but not {}", where, id.empty() ? "a secret access key" : "an access key id",
                                  id.empty() ? "its access key id" : "its secret access key"));
  return std::optional<Credentials>(Credentials{id, secret, token});
}

}  // namespace

Getenv process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

core::Result<std::optional<Resolved>> from_config_or_environment(const CredentialSource& configured,
                                                                 const Getenv& env) {
  auto from_config = pair_of(configured.access_key_id, configured.secret_access_key, configured.session_token,
                             "the config");
  if (!from_config) return std::unexpected(from_config.error());
  if (*from_config) return Resolved{**from_config, "config"};
  auto get = [&env](const char* name) { return env(name).value_or(""); };
  auto from_env = pair_of(get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"), get("AWS_SESSION_TOKEN"),
                          "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)");
  if (!from_env) return std::unexpected(from_env.error());
  if (*from_env) return Resolved{**from_env, "environment"};
  return std::optional<Resolved>();
}

core::Result<std::optional<Resolved>> from_shared_files(const CredentialSource& configured, const Getenv& env,
                                                        std::string& looked) {
  auto get = [&env](const char* name) { return env(name).value_or(""); };
  const std::string profile = !configured.profile.empty() ? configured.profile
                              : !get("AWS_PROFILE").empty() ? get("AWS_PROFILE")
                                                            : "default";
  const std::string home = get("HOME");
  const std::string credentials_file =
      !get("AWS_SHARED_CREDENTIALS_FILE").empty() ? get("AWS_SHARED_CREDENTIALS_FILE") : home + "/.aws/credentials";
  const std::string config_file = !get("AWS_CONFIG_FILE").empty() ? get("AWS_CONFIG_FILE") : home + "/.aws/config";
  const std::pair<std::string, std::string> files[] = {
      {credentials_file, profile}, {config_file, profile == "default" ? profile : "profile " + profile}};
  looked = fmt::format("{} [{}] or {} [{}]", files[0].first, files[0].second, files[1].first, files[1].second);
  for (const auto& [file, section] : files) {
    const auto s = ini_section(file, section);
    if (!s) continue;
    auto value = [&s](const char* k) {
      auto it = s->find(k);
      return it == s->end() ? std::string() : it->second;
    };
    const std::string where = fmt::format("{} [{}]", file, section);
    auto found = pair_of(value("aws_access_key_id"), value("aws_secret_access_key"), value("aws_session_token"), where);
    if (!found) return std::unexpected(found.error());
    if (*found) return Resolved{**found, where};
  }
  return std::optional<Resolved>();
}

std::string nothing_found(const std::string& looked_in_files) {
  return fmt::format("no AWS credentials: not in the config (access_key_id, secret_access_key), not in the "
                     "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), not in {}",
                     looked_in_files);
}

core::Result<Resolved> resolve_credentials(const CredentialSource& configured, const Getenv& env) {
  auto first = from_config_or_environment(configured, env);
  if (!first || *first) return first ? core::Result<Resolved>(**first) : std::unexpected(first.error());
  std::string looked;
  auto files = from_shared_files(configured, env, looked);
  if (!files) return std::unexpected(files.error());
  if (*files) return **files;
  return core::fail(core::Errc::invalid_payload, nothing_found(looked));
}

}  // namespace sluice::aws
