// libFuzzer target for the config loader: YAML parsing, ${VAR} expansion,
// every component's spec and validate hook (what `sluice lint` and `sluice
// run` check). Promises beside "no crash": the work is bounded (libFuzzer's
// -timeout and -rss_limit_mb catch alias bombs), at most 50 errors are
// kept, and every error line is FILE:LINE:COL text safe for a terminal.
#include <cstdint>
#include <map>
#include <string>

#include "components/component_list.h"
#include "config/config.h"
#include "fuzz_check.h"

namespace {

std::optional<std::string> fuzz_env(const std::string& name) {
  static const std::map<std::string, std::string> env = {
      {"TOKEN", "s3cret-value"}, {"PORT", "4195"}, {"EMPTY", ""}, {"RATE", "10/s"}};
  auto it = env.find(name);
  if (it == env.end()) return std::nullopt;
  return it->second;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using sluice::fuzz::check;
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  auto loaded = sluice::config::load_string(yaml, "fuzz.yaml", sluice::components::component_list(), fuzz_env);
  if (loaded) return 0;
  const auto& diagnostics = loaded.error();
  check(!diagnostics.ok(), "a refused config names at least one error");
  check(diagnostics.errors().size() <= sluice::config::Diagnostics::kMaxErrors, "at most 50 errors are kept");
  for (const auto& d : diagnostics.errors()) {
    const std::string line = d.to_string();
    check(line.starts_with("fuzz.yaml:"), "every error names the file", line);
    check(sluice::fuzz::printable_text(line), "error text is printable UTF-8 (hostile input is escaped)", line);
  }
  return 0;
}
